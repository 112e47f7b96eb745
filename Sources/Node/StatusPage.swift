/// `GET /`: the built-in status page. One self-contained HTML document (inline
/// CSS, SVG and script, nothing fetched from elsewhere) that polls
/// `/v1/cluster` every two seconds and draws the sites, the leader, which sites
/// are down, queue depths, and speed of answer, abandonment and service level
/// against their targets in green, amber and red.
extension NodeAPI {
    static func addStatusPageRoute(_ router: inout Router) {
        router.add("GET", "/") { _, _ in
            HTTPResponse(status: 200, headers: [
                ("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store"),
                ("content-security-policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:"),
            ], body: Array(statusPage.utf8))
        }
    }

    static let statusPage = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Lifeline status</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1d2733}
        header{background:#12324a;color:#fff;padding:12px 20px;display:flex;gap:24px;align-items:baseline}
        header h1{font-size:20px;margin:0} header span{opacity:.85}
        main{padding:16px 20px;display:grid;gap:16px}
        section{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px #0002}
        h2{font-size:15px;margin:0 0 8px}
        table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e7eb;font-size:14px}
        .good{color:#1a7f37;font-weight:600} .warn{color:#b7791f;font-weight:600} .bad{color:#c62828;font-weight:600} .muted{color:#6b7785}
        #error{color:#c62828}
        </style></head>
        <body>
        <header><h1>Lifeline</h1><span id="leader">leader: …</span><span id="term"></span><span id="node"></span><span id="error"></span></header>
        <main>
        <section><h2>Sites</h2><svg id="map" width="100%" height="150" role="img" aria-label="sites"></svg>
        <table id="sites"><thead><tr><th>site</th><th>state</th><th>agents available / busy</th><th>speed of answer</th><th>abandonment</th><th>service level</th></tr></thead><tbody></tbody></table></section>
        <section><h2>Queues</h2><table id="queues"><thead><tr><th>queue</th><th>waiting</th><th>longest wait</th><th>speed of answer</th><th>abandonment</th><th>service level</th></tr></thead><tbody></tbody></table></section>
        <section><h2>Members</h2><table id="members"><thead><tr><th>node</th><th>site</th><th>role</th><th>reachable</th><th>match index</th></tr></thead><tbody></tbody></table></section>
        </main>
        <script>
        "use strict";
        const svgNS = "http://www.w3.org/2000/svg";
        function el(tag, attrs, text) { const e = document.createElement(tag); for (const k in attrs||{}) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; }
        function cls(value, good, warn, higherIsBetter) {
          if (value === null || value === undefined) return "muted";
          if (higherIsBetter) return value >= good ? "good" : value >= warn ? "warn" : "bad";
          return value <= good ? "good" : value <= warn ? "warn" : "bad";
        }
        function pct(v) { return v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%"; }
        function secs(ms) { return ms === null || ms === undefined ? "–" : (ms / 1000).toFixed(1) + " s"; }
        function kpiCells(row, k, target) {
          const w = (k && k.window) || {};
          const asa = w.averageSpeedOfAnswerMs, ab = w.abandonmentRate, sl = w.serviceLevel;
          row.appendChild(el("td", {class: cls(asa, target * 500, target * 1000, false)}, secs(asa)));
          row.appendChild(el("td", {class: cls(ab, 0.05, 0.10, false)}, pct(ab)));
          row.appendChild(el("td", {class: cls(sl, 0.80, 0.60, true)}, pct(sl)));
        }
        function fill(id, rows) { const body = document.querySelector("#" + id + " tbody"); body.replaceChildren(...rows); }
        function drawMap(sites, leaderSite) {
          const svg = document.getElementById("map"); while (svg.firstChild) svg.removeChild(svg.firstChild);
          const width = svg.clientWidth || 600, step = width / Math.max(sites.length, 1);
          sites.forEach((s, i) => {
            const x = step * i + step / 2;
            const c = document.createElementNS(svgNS, "circle");
            c.setAttribute("cx", x); c.setAttribute("cy", 60); c.setAttribute("r", 34);
            c.setAttribute("fill", s.up ? "#2e9d5b" : "#c62828"); c.setAttribute("stroke", s.site === leaderSite ? "#f0b429" : "#fff"); c.setAttribute("stroke-width", 6);
            svg.appendChild(c);
            const t = document.createElementNS(svgNS, "text");
            t.setAttribute("x", x); t.setAttribute("y", 125); t.setAttribute("text-anchor", "middle"); t.setAttribute("class", "site-label");
            t.textContent = s.site + (s.up ? "" : " (down)") + (s.site === leaderSite ? " ★ leader" : ""); svg.appendChild(t);
          });
        }
        async function refresh() {
          try {
            const response = await fetch("/v1/cluster", {cache: "no-store"});
            if (!response.ok) throw new Error("HTTP " + response.status);
            const c = await response.json();
            document.getElementById("error").textContent = "";
            document.getElementById("leader").textContent = "leader: " + (c.leader || "none");
            document.getElementById("term").textContent = "term " + c.term;
            document.getElementById("node").textContent = "seen from " + c.node + " (" + c.site + ")";
            const members = c.members || [];
            const leaderMember = members.find(m => m.node === c.leader);
            const cc = c.contactCenter || {sites: [], queues: []};
            const sites = cc.sites.length ? cc.sites : Array.from(new Set(members.map(m => m.site))).map(s => ({site: s, up: true}));
            drawMap(sites, leaderMember ? leaderMember.site : null);
            fill("sites", sites.map(s => { const r = el("tr", {"data-site": s.site});
              r.appendChild(el("td", {}, s.site));
              r.appendChild(el("td", {class: s.up ? "good" : "bad"}, s.up ? (s.drained ? "drained" : "up") : (s.drained ? "drained" : "DOWN")));
              const a = s.agents || {}; r.appendChild(el("td", {}, (a.available || 0) + " / " + ((a.busy || 0) + (a.wrapUp || 0))));
              kpiCells(r, s.kpis, 30); return r; }));
            fill("queues", cc.queues.map(q => { const r = el("tr", {"data-queue": q.queue});
              r.appendChild(el("td", {}, q.queue)); r.appendChild(el("td", {}, String(q.depth)));
              r.appendChild(el("td", {class: cls(q.longestWaitMs, q.serviceLevelSeconds * 1000, q.serviceLevelSeconds * 2000, false)}, secs(q.longestWaitMs)));
              kpiCells(r, q.kpis, q.serviceLevelSeconds); return r; }));
            fill("members", members.map(m => { const r = el("tr", {"data-node": m.node});
              r.appendChild(el("td", {}, m.node + (m.node === c.leader ? " ★" : ""))); r.appendChild(el("td", {}, m.site || ""));
              r.appendChild(el("td", {}, m.role)); r.appendChild(el("td", {class: m.reachable ? "good" : "bad"}, m.reachable ? "yes" : "no"));
              r.appendChild(el("td", {}, m.matchIndex === null ? "–" : String(m.matchIndex))); return r; }));
            document.body.setAttribute("data-leader", c.leader || "");
          } catch (e) {
            document.getElementById("error").textContent = "cannot reach the node: " + e.message;
          }
        }
        refresh(); setInterval(refresh, 2000);
        </script>
        </body></html>
        """
}
