"""Planning (规划): grids' workloads now; change sets, split/merge, history and balancing to come."""
