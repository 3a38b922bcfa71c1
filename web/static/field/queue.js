/* The field page's outbox: every request the officer makes (patrol start, GPS fixes, check answers, patrol
   end, findings, photos) is written to IndexedDB first and sent from there, oldest first, whenever the
   network allows. Each request carries the id the phone made for its object, and the server answers a
   replay of the same id and content with the stored object, so sending an entry twice (a reply lost on
   the way back, a second tab) does no harm. Nothing here knows about the page: it stores and sends. */

const DATABASE = "gridgov-field";
const STORE = "outbox";

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function openDatabase() {
  const request = indexedDB.open(DATABASE, 1);
  request.onupgradeneeded = () => {
    request.result.createObjectStore(STORE, {keyPath: "seq", autoIncrement: true});
  };
  return promised(request);
}

/* How a reply decides the fate of an entry: sent (drop it), stop (keep it and try again later: no
   network, a server error, the officer signed out) or failed (the server refuses it for good: keep it
   aside, shown to the officer, and go on with the next). */
function outcome(response) {
  if (response.ok) { return "sent"; }
  if (response.status === 401 || response.status === 408 || response.status === 429 || response.status >= 500) {
    return "stop";
  }
  return "failed";
}

async function reason(response) {
  try {
    const body = await response.json();
    return body.description || String(response.status);
  } catch (error) {
    return String(response.status);
  }
}

export class Queue {
  constructor(db) {
    this.db = db;
    this.sending = null;
    this.listeners = [];
  }

  static async open() {
    return new Queue(await openDatabase());
  }

  /* Call ``listener`` whenever entries are added, sent or set aside. */
  onChange(listener) {
    this.listeners.push(listener);
  }

  changed() {
    this.listeners.forEach((listener) => listener());
  }

  store(mode) {
    return this.db.transaction(STORE, mode).objectStore(STORE);
  }

  /* Add a request: {kind, label, method, url, body (an object sent as JSON, or a Blob sent as it is),
     contentType (for a Blob)}; entries keep the order they were added in. */
  async add(entry) {
    const seq = await promised(this.store("readwrite").add({...entry, addedAt: new Date().toISOString(),
                                                            state: "waiting", error: null}));
    this.changed();
    return seq;
  }

  async entries() {
    return promised(this.store("readonly").getAll());
  }

  async discard(seq) {
    await promised(this.store("readwrite").delete(seq));
    this.changed();
  }

  async put(entry) {
    await promised(this.store("readwrite").put(entry));
    this.changed();
  }

  /* Send the waiting entries in order. Resolves to "empty" when nothing waits any more, "stopped" when the
     network or the server asked to wait (the entry stays first in line). Only one run at a time. */
  flush() {
    if (!this.sending) {
      this.sending = this.sendAll().finally(() => { this.sending = null; });
    }
    return this.sending;
  }

  async sendAll() {
    for (;;) {  // again until nothing waits: entries added while a run was sending go in the same run
      const waiting = (await this.entries()).filter((entry) => entry.state !== "failed");
      if (waiting.length === 0) { return "empty"; }
      for (const entry of waiting) {
        let response;
        try {
          response = await send(entry);
        } catch (error) {  // no network: fetch rejects
          return "stopped";
        }
        const fate = outcome(response);
        if (fate === "sent") {
          await this.discard(entry.seq);
          continue;
        }
        entry.error = await reason(response);
        if (fate === "stop") {
          await this.put(entry);
          return "stopped";
        }
        entry.state = "failed";
        await this.put(entry);
      }
    }
  }
}

function send(entry) {
  const isBlob = entry.body instanceof Blob;
  const headers = {"Content-Type": isBlob ? entry.contentType : "application/json"};
  return fetch(entry.url, {
    method: entry.method, credentials: "same-origin", headers: headers,
    body: isBlob ? entry.body : JSON.stringify(entry.body),
  });
}
