/* podaudit HTML report: the findings' filters (severity, rule, node, status).
   It reads the JSON data block, never the page's text, and only sets hidden, checked, value
   and textContent, so nothing a node said is ever parsed as HTML. The filters live in the
   URL's fragment (or its query): report.html#severity=high&severity=critical&node=node01.
   Without JavaScript the form stays hidden and every finding shows. */
(function () {
  "use strict";
  var KEYS = ["severity", "rule", "node", "status"];
  var SINGLE = ["rule", "node", "status"];
  var data = JSON.parse(document.getElementById("podaudit-data").textContent);
  var form = document.getElementById("filters");
  var shown = document.getElementById("shown");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-row]"));
  var boxes = [];

  function option(select, value, text) {
    var opt = document.createElement("option");
    opt.value = value;
    opt.textContent = text;
    select.appendChild(opt);
  }

  function build() {
    var fieldset = document.getElementById("filter-severity");
    data.filters.severity.forEach(function (severity) {
      var label = document.createElement("label");
      var box = document.createElement("input");
      box.type = "checkbox";
      box.name = "severity";
      box.value = severity;
      box.checked = true;
      label.appendChild(box);
      label.appendChild(document.createTextNode(" " + severity));
      fieldset.appendChild(label);
      boxes.push(box);
    });
    SINGLE.forEach(function (key) {
      var select = form.elements[key];
      option(select, "", "all");
      data.filters[key].forEach(function (value) { option(select, value, value); });
    });
  }

  /* The fragment when it holds filters (a plain #rules anchor does not), else the query. */
  function fromUrl() {
    var hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    var query = new URLSearchParams(location.search);
    var given = KEYS.some(function (key) { return hash.has(key); }) ? hash : query;
    var severities = given.getAll("severity");
    boxes.forEach(function (box) {
      box.checked = severities.length === 0 || severities.indexOf(box.value) >= 0;
    });
    SINGLE.forEach(function (key) {
      var select = form.elements[key];
      var value = given.get(key) || "";
      var known = Array.prototype.some.call(select.options, function (opt) { return opt.value === value; });
      if (!known) {
        option(select, value, value + " (no findings)");
      }
      select.value = value;
    });
  }

  function chosen() {
    var want = {severity: boxes.filter(function (box) { return box.checked; })
                               .map(function (box) { return box.value; })};
    SINGLE.forEach(function (key) {
      var value = form.elements[key].value;
      want[key] = value ? [value] : null;
    });
    return want;
  }

  function apply() {
    var want = chosen();
    var count = 0;
    rows.forEach(function (tr) {
      var row = data.rows[Number(tr.getAttribute("data-row"))];
      var visible = KEYS.every(function (key, i) { return want[key] === null || want[key].indexOf(row[i]) >= 0; });
      tr.hidden = !visible;
      count += visible ? 1 : 0;
    });
    shown.textContent = count + " of " + rows.length + " findings shown";
    return want;
  }

  function toUrl(want) {
    var params = new URLSearchParams();
    if (want.severity.length !== boxes.length) {
      want.severity.forEach(function (value) { params.append("severity", value); });
    }
    SINGLE.forEach(function (key) {
      if (want[key] !== null) { params.append(key, want[key][0]); }
    });
    var fragment = params.toString();
    try {
      history.replaceState(null, "", fragment ? "#" + fragment : location.pathname + location.search);
    } catch (ignored) {
      /* a viewer that forbids history changes: the filters still apply */
    }
  }

  if (!form) { return; }
  build();
  fromUrl();
  apply();
  form.hidden = false;
  form.addEventListener("change", function () { toUrl(apply()); });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  window.addEventListener("hashchange", function () {
    if (KEYS.some(function (key) { return new URLSearchParams(location.hash.replace(/^#/, "")).has(key); })) {
      fromUrl();
      apply();
    }
  });
}());
