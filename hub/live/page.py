"""The live page's HTML, script and style: served by the hub itself, nothing from anywhere else.

The script opens an EventSource on `/store/S/events` and writes each snapshot into the page; the
browser reconnects by itself after a network cut, and the page says so meanwhile.
"""

from __future__ import annotations

from html import escape

CSS = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{display:flex;justify-content:space-between;align-items:center;padding:.6rem 1rem;
background:#1d2330;color:#fff}
header form{margin:0}button{font-size:1rem;padding:.4rem .9rem}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(15rem,1fr));gap:.8rem;padding:1rem}
.tile{background:#fff;border-radius:.5rem;padding:.8rem 1rem;box-shadow:0 1px 2px #0002}
.tile h2{font-size:.9rem;font-weight:500;margin:0 0 .3rem;color:#555}
.big{font-size:2.6rem;font-weight:700}.sub{color:#666;font-size:.9rem}
#status{font-size:.85rem}#status.off{color:#ffb4b4}
#arrivals{grid-column:1/-1}#arrivals li{padding:.3rem 0;border-bottom:1px solid #eee;list-style:none}
#arrivals ul{padding:0;margin:0}
.login{max-width:22rem;margin:4rem auto;background:#fff;padding:1.5rem;border-radius:.5rem}
.login input{display:block;width:100%;box-sizing:border-box;margin:.3rem 0 .8rem;padding:.5rem;font-size:1rem}
.error{color:#b00020}
"""

JS = """
"use strict";
const root = document.getElementById("live");
const store = root.dataset.store;
const $ = (id) => document.getElementById(id);
const fmt = (v, none) => (v === null || v === undefined) ? (none || "-") : String(v);
const pct = (v) => (v === null || v === undefined) ? "-" : (Math.round(v * 1000) / 10) + " %";
function show(d) {
  $("present").textContent = fmt(d.present.estimate);
  $("present-range").textContent = d.present.low + "-" + d.present.high + " (95 %), "
    + d.present.gateways_n + " gateway(s)";
  $("entries-hour").textContent = fmt(d.entries.hour);
  $("entries-hour-weeks").textContent = "same weekday, last weeks: " + fmt(d.entries.hour_last_weeks);
  $("entries-today").textContent = fmt(d.entries.today);
  $("entries-today-weeks").textContent = "same weekday, last weeks: " + fmt(d.entries.today_last_weeks)
    + " (" + d.entries.source + ")";
  $("capture").textContent = pct(d.capture_rate_15min);
  $("new").textContent = fmt(d.visitors_today.new);
  $("returning").textContent = fmt(d.visitors_today.returning);
  $("transactions").textContent = fmt(d.sales.transactions_n);
  $("conversion").textContent = d.sales.transactions_n === null ? "no POS data imported"
    : "conversion " + pct(d.sales.conversion);
  $("as-of").textContent = d.as_of.replace("T", " ");
  const list = $("arrival-list");
  if (list && d.arrivals) {
    list.replaceChildren(...d.arrivals.map((a) => {
      const li = document.createElement("li");
      const last = a.last_purchases.length ? a.last_purchases[0].date + " " + a.last_purchases[0].net_amount
        : "no purchase yet";
      const at = new Date(a.seen_at).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
      li.textContent = at + "  " + a.member_id + "  " + fmt(a.tier, "")
        + "  segment: " + fmt(a.lifecycle_segment) + "  spend: " + a.lifetime_spend_band
        + "  last purchase: " + last;
      return li;
    }));
  }
}
const events = new EventSource("/store/" + encodeURIComponent(store) + "/events");
events.onmessage = (e) => {
  $("status").textContent = "live"; $("status").className = ""; show(JSON.parse(e.data));
};
events.onerror = () => { $("status").textContent = "reconnecting..."; $("status").className = "off"; };
"""

_TILES = (
    ("People in the store now", "present", "present-range"),
    ("Entries this hour", "entries-hour", "entries-hour-weeks"),
    ("Entries today", "entries-today", "entries-today-weeks"),
    ("Capture rate, last 15 min", "capture", None),
    ("New today", "new", None),
    ("Returning members today", "returning", None),
    ("Transactions so far", "transactions", "conversion"),
)


def _doc(title: str, body: str) -> bytes:
    return ("<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>{escape(title)}</title><link rel=stylesheet href='/live.css'></head>"
            f"<body>{body}</body></html>").encode()


def login_page(csrf: str, error: str = "") -> bytes:
    err = f"<p class=error>{escape(error)}</p>" if error else ""
    return _doc("Footfall: sign in", (
        "<form class=login method=post action='/login'><h1>Footfall live</h1>" + err +
        f"<input type=hidden name=csrf value='{escape(csrf)}'>"
        "<label>User<input name=username autocomplete=username required autofocus></label>"
        "<label>Password<input name=password type=password autocomplete=current-password required></label>"
        "<button type=submit>Sign in</button></form>"))


def store_page(store: str, user: str, csrf: str, arrivals: bool) -> bytes:
    tiles = "".join(
        f"<section class=tile><h2>{escape(title)}</h2><div class=big id={big}>-</div>"
        + (f"<div class=sub id={sub}>-</div>" if sub else "") + "</section>"
        for title, big, sub in _TILES)
    if arrivals:
        tiles += ("<section class=tile id=arrivals><h2>Members arriving</h2><ul id=arrival-list></ul>"
                  "</section>")
    return _doc(f"Footfall live: {store}", (
        f"<div id=live data-store='{escape(store)}'><header><strong>{escape(store)}</strong>"
        "<span><span id=as-of></span> <span id=status class=off>connecting...</span></span>"
        f"<form method=post action='/logout'><input type=hidden name=csrf value='{escape(csrf)}'>"
        f"<span>{escape(user)}</span> <button type=submit>Sign out</button></form></header>"
        f"<main>{tiles}</main></div><script src='/live.js'></script>"))


def stores_page(stores: list[str], csrf: str) -> bytes:
    links = "".join(f"<li><a href='/store/{escape(s)}'>{escape(s)}</a></li>" for s in stores)
    return _doc("Footfall live: stores", (
        f"<main><section class=tile><h2>Your stores</h2><ul>{links or '<li>none</li>'}</ul>"
        f"<form method=post action='/logout'><input type=hidden name=csrf value='{escape(csrf)}'>"
        "<button type=submit>Sign out</button></form></section></main>"))


def message_page(title: str, text: str) -> bytes:
    return _doc(title, f"<main><section class=tile><h2>{escape(title)}</h2><p>{escape(text)}</p>"
                       "<p><a href='/'>Back</a></p></section></main>")
