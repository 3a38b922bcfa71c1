/* The pages' translation helper: t("English id", {name: value}) looks the id up in the JSON catalog the
   server embedded in the page (<script type="application/json" id="i18n">), falling back to the id. */
(function () {
  "use strict";
  var element = document.getElementById("i18n");
  var messages = element ? JSON.parse(element.textContent) : {};
  window.pageLanguage = element ? element.dataset.lang : document.documentElement.lang;
  window.t = function (id, params) {
    var text = Object.prototype.hasOwnProperty.call(messages, id) ? messages[id] : id;
    if (!params) { return text; }
    return text.replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(params, key) ? String(params[key]) : whole;
    });
  };
}());
