// civmil live events (an ES module; docs/live-events.md).
//
// Any element with data-live-stream="<record type>" (e.g. "actors.liaisonlogentry") makes the page
// open one WebSocket to /ws/events/, subscribe to those streams and resume after the last event id
// it received (kept per stream in sessionStorage; data-live-after, rendered with the page, wins).
// Optional attributes on the stream element:
//   data-live-after="<id>"                  the newest event id when the page was rendered
//   data-live-seen="<token>"                signed list of the rows the page shows (for "removed")
//   data-live-row-url-template="<url>"      URL of one row's HTML, the all-zero UUID standing for its id
//   data-live-refresh-url="<url>"           URL of the whole element's HTML (after "reload")
//   data-live-insert="prepend|append"       where a new row goes (default prepend)
//   data-live-object="<id>"                 follow one record only (a detail page)
// Every event is dispatched as a cancelable CustomEvent "civmil:live" (detail = the event) on each
// element of its stream; unless a listener calls preventDefault(), the module refreshes the row from
// data-live-row-url-template. A "removed" event removes every [data-live-id="<object id>"].
// Elements with data-live-notice="<topic> ..." (e.g. the notification badge) make the page connect
// too, without a stream: when the server says a topic of the account changed ({"type": "notice"}),
// or when the connection comes back after a drop (a notice may have been missed), each such
// element receives a CustomEvent "civmil:notice" (detail {topic}); htmx refreshes it with
// hx-trigger="civmil:notice".
// While disconnected, [data-live-status] (or a banner it creates, role=status) says so; it
// reconnects with exponential back-off and jitter. Closed as the oldest of too many connections
// of the session (4429), it does not reconnect (that would close another page): it offers a reload.

const SOCKET_PATH = "/ws/events/";
const STORAGE_PREFIX = "civmil.live.last.";
const ID_PLACEHOLDER = "00000000-0000-0000-0000-000000000000";
const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_ACTOR_CHANGED = 4409;
const CLOSE_TOO_MANY = 4429;

function strings() {
  return document.getElementById("civmil-i18n")?.dataset ?? {};
}

function readStored(stream) {
  try {
    const value = window.sessionStorage.getItem(STORAGE_PREFIX + stream);
    return value !== null && /^\d+$/.test(value) ? Number(value) : null;
  } catch {
    return null; // storage disabled: resume from the page's own id only
  }
}

function store(stream, id) {
  try {
    window.sessionStorage.setItem(STORAGE_PREFIX + stream, String(id));
  } catch {
    // storage full or disabled: the id is still kept in memory for this page
  }
}

export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + random() * (ceiling / 2)); // "equal jitter": half fixed, half random
}

function socketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${SOCKET_PATH}`;
}

// Rows and lists come back as HTML the server rendered from its templates (every user text in them
// escaped and direction-isolated there); anything else - another type, another origin after a
// redirect - is not inserted. Events themselves never carry markup: nothing of their text is
// written into the page as HTML here.
async function serverFragment(response) {
  const type = response.headers.get("Content-Type") ?? "";
  if (!type.startsWith("text/html") || new URL(response.url, window.location.href).origin !== window.location.origin) {
    return null;
  }
  const holder = document.createElement("template");
  holder.innerHTML = (await response.text()).trim();
  return holder.content;
}

function cssEscape(value) {
  return window.CSS && CSS.escape ? CSS.escape(value) : String(value).replace(/["\\]/g, "\\$&");
}

class StatusIndicator {
  constructor() {
    this.element = document.querySelector("[data-live-status]");
  }

  ensure() {
    if (!this.element) {
      const banner = document.createElement("div");
      banner.className = "notice warning live-status";
      banner.setAttribute("data-live-status", "");
      banner.setAttribute("role", "status");
      banner.hidden = true;
      (document.querySelector("main") ?? document.body).prepend(banner);
      this.element = banner;
    } else if (!this.element.hasAttribute("role")) {
      this.element.setAttribute("role", "status");
    }
    return this.element;
  }

  show(state, text, action) {
    const el = this.ensure();
    el.replaceChildren(document.createTextNode(text));
    if (action) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-secondary";
      button.textContent = action.label;
      button.addEventListener("click", action.run);
      el.append(" ", button);
    }
    el.dataset.liveState = state;
    el.hidden = false;
  }

  hide() {
    // Back online; a page rendered for another membership still says so until it is reloaded.
    if (this.element && this.element.dataset.liveState !== "actor-changed") {
      this.element.hidden = true;
      this.element.dataset.liveState = "online";
      this.element.replaceChildren();
    }
  }
}

export class LiveConnection {
  constructor({ url = socketUrl(), WebSocketImpl = window.WebSocket, random = Math.random } = {}) {
    this.url = url;
    this.WebSocketImpl = WebSocketImpl;
    this.random = random;
    this.status = new StatusIndicator();
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.lastIds = new Map();
    this.everOpened = false;
    for (const el of this.elements()) {
      const stream = el.dataset.liveStream;
      const pageId = /^\d+$/.test(el.dataset.liveAfter ?? "") ? Number(el.dataset.liveAfter) : null;
      const known = this.lastIds.get(stream);
      const start = pageId ?? readStored(stream);
      // Two elements of one stream: resume from the older point so neither misses anything.
      if (!this.lastIds.has(stream) || (start !== null && (known === null || start < known))) {
        this.lastIds.set(stream, start);
      }
      if (pageId !== null) {
        store(stream, pageId);
      }
    }
    window.addEventListener("online", () => this.reconnectNow());
  }

  elements(stream) {
    const all = [...document.querySelectorAll("[data-live-stream]")];
    return stream === undefined ? all : all.filter((el) => el.dataset.liveStream === stream);
  }

  streams() {
    return [...this.lastIds.keys()];
  }

  noticeElements(topic) {
    const all = [...document.querySelectorAll("[data-live-notice]")];
    return topic === undefined ? all : all.filter((el) => el.dataset.liveNotice.split(/\s+/).includes(topic));
  }

  notice(topic) {
    for (const el of this.noticeElements(topic)) {
      el.dispatchEvent(new CustomEvent("civmil:notice", { detail: { topic }, bubbles: true }));
    }
  }

  after() {
    // One resume point for all streams: the oldest known one (events a stream already has are
    // skipped on arrival). A stream with no known point simply starts from there too.
    const known = [...this.lastIds.values()].filter((id) => id !== null);
    return known.length ? Math.min(...known) : null;
  }

  start() {
    if ((this.streams().length === 0 && this.noticeElements().length === 0) || !this.WebSocketImpl) {
      return;
    }
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    this.timer = null;
    let socket;
    try {
      socket = new this.WebSocketImpl(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => this.opened());
    socket.addEventListener("message", (message) => this.receive(message.data));
    socket.addEventListener("close", (event) => this.closed(socket, event.code));
  }

  opened() {
    if (this.actorChanged) {
      this.actorChanged = false;
      this.refreshForNewMembership();
    }
    if (this.everOpened) {
      // Back after a drop: whatever the notices said meanwhile, the elements fetch it now.
      for (const topic of new Set(this.noticeElements().flatMap((el) => el.dataset.liveNotice.split(/\s+/)))) {
        if (topic) {
          this.notice(topic);
        }
      }
    }
    this.everOpened = true;
    if (this.streams().length === 0) {
      this.attempt = 0; // nothing to subscribe to: notices arrive on the open connection
      this.status.hide();
      return;
    }
    this.subscribe();
  }

  subscribe() {
    const seen = this.elements()
      .map((el) => el.dataset.liveSeen)
      .filter((token) => token);
    this.send({ type: "subscribe", streams: this.streams(), after: this.after(), seen });
  }

  send(message) {
    if (this.socket && this.socket.readyState === 1) {
      this.socket.send(JSON.stringify(message));
    }
  }

  receive(data) {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (!event || typeof event !== "object") {
      return;
    }
    switch (event.type) {
      case "subscribed":
        this.attempt = 0;
        this.status.hide();
        break;
      case "event":
      case "removed":
        this.deliver(event);
        break;
      case "reset":
        for (const stream of this.streams()) {
          this.remember(stream, event.last_id, true);
        }
        this.dispatchAll(event);
        break;
      case "reload":
        for (const stream of this.streams()) {
          this.remember(stream, event.last_id, true);
        }
        this.reloadAll(event);
        break;
      case "notice":
        if (typeof event.topic === "string") {
          this.notice(event.topic);
        }
        break;
      case "error":
        console.warn("civmil live events:", event.code, event.message);
        this.dispatchAll(event);
        break;
      default:
        break;
    }
  }

  remember(stream, id, force = false) {
    if (typeof id !== "number") {
      return;
    }
    const known = this.lastIds.get(stream);
    if (force || known === null || known === undefined || id > known) {
      this.lastIds.set(stream, id);
      store(stream, id);
    }
  }

  deliver(event) {
    const stream = event.object_type;
    if (!this.lastIds.has(stream)) {
      return;
    }
    const known = this.lastIds.get(stream);
    if (known !== null && typeof event.id === "number" && event.id <= known) {
      return; // already applied (a replay from an older resume point of another stream)
    }
    this.remember(stream, event.id);
    if (event.type === "removed") {
      this.removeRows(event.object_id);
    }
    for (const el of this.elements(stream)) {
      if (el.dataset.liveObject && el.dataset.liveObject !== event.object_id) {
        continue; // a detail page follows its one record only
      }
      const proceed = this.dispatch(el, event);
      if (proceed && event.type === "event") {
        this.refreshRow(el, event.object_id);
      }
    }
  }

  dispatch(el, detail) {
    return el.dispatchEvent(new CustomEvent("civmil:live", { detail, bubbles: true, cancelable: true }));
  }

  dispatchAll(detail) {
    for (const el of this.elements()) {
      this.dispatch(el, detail);
    }
  }

  removeRows(objectId) {
    for (const row of document.querySelectorAll(`[data-live-id="${cssEscape(objectId)}"]`)) {
      row.remove();
    }
  }

  async refreshRow(el, objectId) {
    const template = el.dataset.liveRowUrlTemplate;
    if (!template || !template.includes(ID_PLACEHOLDER)) {
      return;
    }
    const url = template.replace(ID_PLACEHOLDER, encodeURIComponent(objectId));
    let response;
    try {
      response = await fetch(url, {
        credentials: "same-origin",
        // A refresh the page makes by itself is no sign of a person at the screen: it does not keep
        // the session from its idle sign-out.
        headers: { "HX-Request": "true", Accept: "text/html", "X-Civmil-Background": "1" },
      });
    } catch {
      return; // offline: the next event or reconnection brings it back
    }
    if (response.status === 404 || response.status === 204) {
      // 404: the server no longer shows it to this reader; 204: it is outside this page's filters.
      this.removeRows(objectId);
      return;
    }
    if (!response.ok) {
      return;
    }
    const fresh = (await serverFragment(response))?.firstElementChild;
    if (!fresh) {
      return;
    }
    const existing = el.querySelector(`[data-live-id="${cssEscape(objectId)}"]`);
    if (existing) {
      existing.replaceWith(fresh);
    } else if (el.dataset.liveInsert === "append") {
      el.append(fresh);
    } else {
      el.prepend(fresh);
    }
    fresh.setAttribute("data-live-fresh", "");
    if (window.htmx && typeof window.htmx.process === "function") {
      window.htmx.process(fresh);
    }
  }

  async refreshForNewMembership() {
    const text = strings();
    const stale = this.elements().filter((el) => !el.dataset.liveRefreshUrl);
    if (stale.length) {
      this.status.show("actor-changed", text.liveActorChanged || "You now act for another membership: reload the page.", {
        label: text.liveReload || "Reload",
        run: () => window.location.reload(),
      });
    }
    await this.reloadAll({ type: "actor-changed" }, { quiet: true });
  }

  async reloadAll(event, { quiet = false } = {}) {
    const text = strings();
    for (const el of this.elements()) {
      if (!this.dispatch(el, event)) {
        continue;
      }
      const url = el.dataset.liveRefreshUrl;
      if (!url) {
        if (quiet) {
          continue;
        }
        this.status.show("stale", text.liveStale || "There are more changes than can be shown here.", {
          label: text.liveReload || "Reload",
          run: () => window.location.reload(),
        });
        continue;
      }
      try {
        const response = await fetch(url, {
          credentials: "same-origin",
          headers: { "HX-Request": "true", "X-Civmil-Background": "1" },
        });
        const content = response.ok ? await serverFragment(response) : null;
        if (content) {
          el.replaceChildren(content);
          if (window.htmx && typeof window.htmx.process === "function") {
            window.htmx.process(el);
          }
        }
      } catch {
        // offline: the reconnection asks again
      }
    }
  }

  closed(socket, code) {
    if (socket !== this.socket) {
      return;
    }
    this.socket = null;
    const text = strings();
    if (code === CLOSE_UNAUTHENTICATED) {
      this.stopped = true;
      this.status.show("signed-out", text.liveSignedOut || "You are signed out: live updates have stopped.", {
        label: text.liveReload || "Reload",
        run: () => window.location.reload(),
      });
      return;
    }
    if (code === CLOSE_TOO_MANY) {
      // The session opened more live pages than it may follow at once and this one is the oldest:
      // reconnecting would only close another page, so it waits for the person to reload it.
      this.stopped = true;
      this.status.show("too-many", text.liveTooMany || "Live updates have stopped on this page: it is the oldest of too many open pages. Reload it to follow changes here again.", {
        label: text.liveReload || "Reload",
        run: () => window.location.reload(),
      });
      return;
    }
    if (code === CLOSE_ACTOR_CHANGED) {
      // The account now acts for another membership: reopen at once, under it. What the page
      // rendered for the former one is refreshed where it can be, else the page offers to reload.
      this.actorChanged = true;
      this.attempt = 0;
      this.connect();
      return;
    }
    this.status.show("offline", text.liveOffline || "Offline: live updates are paused. Reconnecting…");
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    if (this.stopped || this.timer !== null) {
      return;
    }
    const delay = backoffDelay(this.attempt, this.random);
    this.attempt += 1;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  reconnectNow() {
    if (this.stopped || this.socket) {
      return;
    }
    clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }
}

function boot() {
  if (!document.querySelector("[data-live-stream], [data-live-notice]")) {
    return;
  }
  const connection = new LiveConnection();
  window.civmilLive = connection;
  connection.start();
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", boot, { once: true });
} else {
  boot();
}
