// Detox Factory release report: filter the row sample table by text and by drop reason.
// Plain JavaScript, no framework; rows are rendered (escaped) into the page by the factory.
(function () {
  "use strict";
  function setUp(box) {
    var table = document.getElementById(box.getAttribute("data-table"));
    var input = box.querySelector("input");
    var select = box.querySelector("select");
    var count = box.querySelector(".count");
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
    function apply() {
      var query = input.value.trim().toLowerCase();
      var reason = select.value;
      var shown = 0;
      rows.forEach(function (row, index) {
        var visible = (!query || texts[index].indexOf(query) !== -1) &&
          (!reason || row.getAttribute("data-reason") === reason);
        row.hidden = !visible;
        if (visible) { shown += 1; }
      });
      count.textContent = shown + " of " + rows.length + " rows shown";
    }
    input.addEventListener("input", apply);
    select.addEventListener("change", apply);
    apply();
  }
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".search[data-table]"), setUp);
  });
})();
