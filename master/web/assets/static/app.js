// brine web view: live progress on the jobs and job pages, the live event
// list and key actions. Everything from the server is written with
// textContent, never as HTML.
"use strict";

function get(url) {
  return fetch(url, {credentials: "same-origin"}).then(function (r) {
    if (!r.ok) { throw new Error(url + ": " + r.status); }
    return r.json();
  });
}

// jobs page: refresh the returned counts and results of the listed jobs,
// and reload when a new job appears.
function liveJobs(table) {
  var known = {};
  table.querySelectorAll("tr[data-jid]").forEach(function (tr) { known[tr.dataset.jid] = tr; });
  function tick() {
    get("/api/jobs" + location.search).then(function (jobs) {
      jobs.forEach(function (j) {
        var tr = known[j.jid];
        if (!tr) {
          tr = document.createElement("tr");
          tr.dataset.jid = j.jid;
          ["jid", "fun", "target", "origin", "start", "returned", "result"].forEach(function (k) {
            var td = document.createElement("td");
            td.className = k;
            tr.appendChild(td);
          });
          var a = document.createElement("a");
          a.href = "/jobs/" + encodeURIComponent(j.jid);
          a.textContent = j.jid;
          tr.children[0].appendChild(a);
          tr.children[1].textContent = j.fun;
          tr.children[2].textContent = j.target;
          tr.children[3].textContent = j.origin || "";
          tr.children[4].textContent = j.start;
          table.tBodies[0].insertBefore(tr, table.tBodies[0].firstChild);
          known[j.jid] = tr;
        }
        tr.querySelector(".returned").textContent = j.returned + "/" + j.minions;
        var res = tr.querySelector(".result");
        res.textContent = j.result;
        res.className = "result " + j.result;
      });
    }).catch(function () {}).finally(function () { setTimeout(tick, 1000); });
  }
  setTimeout(tick, 1000);
}

// job page: reload while returns are missing.
function liveJob(el) {
  var want = +el.dataset.minions, had = +el.dataset.returned;
  if (had >= want) { return; }
  function tick() {
    get("/api/jobs/" + encodeURIComponent(el.dataset.jid)).then(function (j) {
      el.textContent = "returned " + j.returned + "/" + j.minions.length;
      if (j.returned !== had) { location.reload(); return; }
      setTimeout(tick, 1000);
    }).catch(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 1000);
}

// events page: a server-sent event stream into the table, newest on top.
function liveEvents(table) {
  var body = table.tBodies[0], count = 0, recent = [];
  var url = "/api/events" + (table.dataset.tag ? "?tag=" + encodeURIComponent(table.dataset.tag) : "");
  var es = new EventSource(url);
  function add(e) {
    var ev;
    try { ev = JSON.parse(e.data); } catch (err) { return; }
    var tr = document.createElement("tr");
    [ev.time, ev.source, ev.tag, JSON.stringify(ev.data)].forEach(function (v) {
      var td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    });
    body.insertBefore(tr, body.firstChild);
    while (body.rows.length > 500) { body.deleteRow(body.rows.length - 1); }
    count++;
    recent.push(Date.now());
  }
  es.onmessage = add;
  // The view skips events this page reads too slowly to keep up with.
  es.addEventListener("skipped", function (e) {
    var n;
    try { n = JSON.parse(e.data).skipped; } catch (err) { return; }
    var tr = document.createElement("tr"), td = document.createElement("td");
    td.colSpan = 4;
    td.className = "skipped";
    td.textContent = n + " events skipped";
    tr.appendChild(td);
    body.insertBefore(tr, body.firstChild);
  });
  setInterval(function () {
    var now = Date.now();
    while (recent.length && recent[0] < now - 1000) { recent.shift(); }
    document.getElementById("rate").textContent = recent.length;
    document.getElementById("count").textContent = count;
  }, 250);
}

function keyActions() {
  document.querySelectorAll("button.key-action").forEach(function (b) {
    b.addEventListener("click", function () {
      b.disabled = true;
      fetch("/api/keys/" + encodeURIComponent(b.dataset.id) + "/" + b.dataset.action,
            {method: "POST", credentials: "same-origin"}).then(function (r) {
        if (!r.ok) { return r.text().then(function (t) { throw new Error(t); }); }
        location.reload();
      }).catch(function (err) { b.disabled = false; alert(err.message); });
    });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  var t = document.querySelector("table[data-live]");
  if (t) { liveJobs(t); }
  var p = document.getElementById("progress");
  if (p) { liveJob(p); }
  var ev = document.getElementById("events");
  if (ev) { liveEvents(ev); }
  keyActions();
});
