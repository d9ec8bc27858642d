// Drawing a record's place: the map of a GeometryWidget (civmil/core/forms_geometry.py).
//
//   <div class="geometry-input" data-geometry-input="<hidden input id>" data-location-input="<text input id>"
//        data-tools="Marker,Line,Polygon" data-multi="MultiPoint,..." data-geoman-js="<url>" data-geoman-css="<url>"
//        data-css="<url of civmil/css/geometry.css>">
//     <input type="hidden" ...>  <div class="map" data-map="view"> (made a Leaflet map by map.js)
//
// leaflet-geoman is loaded on the first such widget. What is drawn (or edited, moved, removed) is
// written to the hidden input as one GeoJSON geometry: the last shape drawn, or all of them as a
// Multi geometry when the field accepts that type. Drawing empties the typed point, which the
// server would otherwise prefer. The server validates: errors come back on the form.

const GEOMAN_READY = new Map();

function loadOnce(url, kind) {
  if (!GEOMAN_READY.has(url)) {
    GEOMAN_READY.set(url, new Promise((resolve, reject) => {
      const element = kind === "css" ? document.createElement("link") : document.createElement("script");
      if (kind === "css") {
        element.rel = "stylesheet";
        element.href = url;
      } else {
        element.src = url;
      }
      element.addEventListener("load", () => resolve());
      element.addEventListener("error", () => reject(new Error(`could not load ${url}`)));
      document.head.append(element);
    }));
  }
  return GEOMAN_READY.get(url);
}

function leafletReady() {
  if (window.L) {
    return Promise.resolve(window.L);
  }
  return new Promise((resolve) => {
    document.addEventListener("DOMContentLoaded", () => resolve(window.L), { once: true });
  });
}

function mapOf(mapElement) {
  if (mapElement.civmilMap && mapElement.dataset.mapState === "ready") {
    return Promise.resolve(mapElement.civmilMap);
  }
  return new Promise((resolve) => {
    mapElement.addEventListener("civmil:map-ready", (event) => resolve(event.detail.map), { once: true });
  });
}

function geometryOf(layer) {
  const feature = layer.toGeoJSON(15);
  return feature?.type === "Feature" ? feature.geometry : feature;
}

// The drawn layers as one geometry: one shape, or their Multi form when it is accepted.
function combine(geometries, multi) {
  if (geometries.length === 0) {
    return null;
  }
  const last = geometries[geometries.length - 1];
  const multiType = `Multi${last.type}`;
  if (geometries.length === 1 || !multi.includes(multiType)) {
    return last;
  }
  const same = geometries.filter((g) => g.type === last.type);
  return { type: multiType, coordinates: same.map((g) => g.coordinates) };
}

function readInitial(input) {
  if (!input.value) {
    return null;
  }
  try {
    return JSON.parse(input.value);
  } catch {
    return null;
  }
}

async function setup(box) {
  if (box.dataset.geometryState) {
    return;
  }
  box.dataset.geometryState = "starting";
  const input = document.getElementById(box.dataset.geometryInput ?? "");
  const typed = document.getElementById(box.dataset.locationInput ?? "");
  const mapElement = box.querySelector("div.map");
  if (!input || !mapElement) {
    return;
  }
  const L = await leafletReady();
  if (!L) {
    return;
  }
  // Our stylesheet after geoman's: it replaces the toolbar's data: icons, which the CSP refuses.
  await Promise.all([loadOnce(box.dataset.geomanCss, "css"), loadOnce(box.dataset.css, "css"),
    loadOnce(box.dataset.geomanJs, "js")]);
  const map = await mapOf(mapElement);
  if (!map.pm) {
    // geoman equips the maps made after it loaded; this one (made by map.js) came first.
    map.pm = new L.PM.Map(map);
  }
  const tools = new Set((box.dataset.tools ?? "").split(",").filter(Boolean));
  const multi = (box.dataset.multi ?? "").split(",").filter(Boolean);
  const drawn = L.featureGroup().addTo(map);

  const initial = readInitial(input);
  if (initial) {
    L.geoJSON(initial).eachLayer((layer) => drawn.addLayer(layer));
    const bounds = drawn.getBounds();
    if (bounds.isValid()) {
      map.fitBounds(bounds, { padding: [20, 20], maxZoom: 14 });
    }
  }

  function write() {
    const geometries = [];
    drawn.eachLayer((layer) => {
      const geometry = geometryOf(layer);
      if (geometry?.type?.startsWith("Multi")) {
        for (const coordinates of geometry.coordinates) {
          geometries.push({ type: geometry.type.slice(5), coordinates });
        }
      } else if (geometry) {
        geometries.push(geometry);
      }
    });
    const geometry = combine(geometries, multi);
    input.value = geometry ? JSON.stringify(geometry) : "";
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  map.pm.addControls({
    position: "topleft",
    drawMarker: tools.has("Marker"),
    drawPolyline: tools.has("Line"),
    drawPolygon: tools.has("Polygon"),
    drawRectangle: tools.has("Polygon"),
    drawCircle: false,
    drawCircleMarker: false,
    drawText: false,
    cutPolygon: false,
    rotateMode: false,
  });
  map.pm.setGlobalOptions({ layerGroup: drawn, allowSelfIntersection: false });
  // The toolbar's tooltips in the page's language, where geoman has it (French, Arabic, Spanish, ...).
  const lang = (document.documentElement.lang || "en").slice(0, 2);
  if (lang !== "en" && typeof map.pm.setLang === "function") {
    map.pm.setLang(lang);
  }

  // geoman titles the button's container; the button itself gets the name, for screen readers.
  for (const button of mapElement.querySelectorAll(".leaflet-pm-toolbar .button-container[title]")) {
    button.querySelector("a.leaflet-buttons-control-button")?.setAttribute("aria-label", button.title);
  }

  map.on("pm:create", (event) => {
    const keepOthers = multi.length > 0;
    if (!keepOthers) {
      drawn.eachLayer((layer) => {
        if (layer !== event.layer) {
          drawn.removeLayer(layer);
        }
      });
    }
    if (!drawn.hasLayer(event.layer)) {
      drawn.addLayer(event.layer);
    }
    event.layer.on("pm:edit", write);
    if (typed) {
      typed.value = "";
    }
    write();
  });
  map.on("pm:remove", write);
  drawn.eachLayer((layer) => layer.on("pm:edit", write));
  box.dataset.geometryState = "ready";
}

function setupAll(scope = document) {
  const boxes = [];
  if (scope instanceof Element && scope.matches("[data-geometry-input]")) {
    boxes.push(scope);
  }
  boxes.push(...scope.querySelectorAll("[data-geometry-input]"));
  for (const box of boxes) {
    setup(box).catch((error) => {
      console.warn("civmil geometry:", error);
      box.dataset.geometryState = "failed";
    });
  }
}

setupAll();
document.addEventListener("htmx:load", (event) => {
  if (event.detail?.elt instanceof Element) {
    setupAll(event.detail.elt);
  }
});
