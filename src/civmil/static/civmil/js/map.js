// civmil maps (an ES module loaded by base.html on every page; Leaflet and markercluster are
// loaded before it as deferred classic scripts and are used through the globals L and L.markerClusterGroup).
//
// Any <div class="map" data-map="..."> becomes a Leaflet map. Under its records every map draws the
// mission's offline basemap (towns, roads, rivers, water, boundaries and the administrative areas,
// a PMTiles file civmil serves, drawn by protomaps-leaflet: no online tiles, missions are often
// offline) and the top-level areas with their names. Both come from #civmil-map-sources (base.html):
// data-basemap-url is empty when the mission has no basemap file, and the map then draws the areas alone.
//
//   data-map="view"     data-geojson-url="<url>" and/or data-geojson-id="<id of a json_script element>"
//                       Features with properties.name get a popup, with a link when properties.url is set,
//                       and a tooltip; both are built as DOM nodes from the text (never as HTML).
//                       A feature of a map layer (/api/v1/map/layers/<key>) names its card in
//                       properties.card: its popup shows the title and loads the card (the record as
//                       the reader may see it, rendered by the server) when it first opens.
//                       The map fits its features. Many points are clustered (data-cluster="off" to never
//                       cluster, or a number: the point count from which to cluster; default 50).
//   data-map="picker"   data-lat-input="<input id>" data-lon-input="<input id>"
//                       Clicking (or dragging the marker) writes the point to the inputs with 6 decimals;
//                       typing in the inputs moves the marker; a "Clear location" button empties both.
//   optional on both:   data-areas-url="<url of a GeoJSON FeatureCollection of areas>" (the areas drawn over
//                       the basemap; default: the page's, data-areas="off" for none), data-basemap="off",
//                       data-center="lat,lon", data-zoom="n".
//
// When a map is ready the element gets a "civmil:map-ready" event whose detail is {map, L}, and
// element.civmilMap holds the Leaflet map, so page scripts can add their own layers.
// Maps inside content that htmx swaps in are initialised too.

const MAX_ZOOM = 18;
const DEFAULT_CENTER = [0, 0];
const DEFAULT_ZOOM = 2;
const POINT_ZOOM = 12;
// Fitting a map to its records stops here: a lone point shows the towns and roads around it.
const FIT_MAX_ZOOM = 10;
const DEFAULT_CLUSTER_FROM = 50;

const LEVEL_COLOURS = {
  public: "#1b5e30",
  mission: "#0d4a85",
  humanitarian: "#0a5a50",
  military: "#4a5214",
  restricted: "#8a3d00",
  oversight: "#5b2a86",
};
const FEATURE_COLOUR = "#a4161a";
// Areas by admin level: the higher the level, the finer the line.
const AREA_COLOUR = "#5b4a6b";
const AREA_LINES = {
  0: { weight: 3, dashArray: null },
  1: { weight: 2, dashArray: null },
  2: { weight: 1.2, dashArray: "5 3" },
  3: { weight: 0.8, dashArray: "2 3" },
};

function areaStyle(properties, { basemap }) {
  const level = Number.isInteger(properties?.admin_level) ? Math.min(properties.admin_level, 3) : 3;
  return {
    pane: "areas",
    color: AREA_COLOUR,
    opacity: 0.85,
    ...AREA_LINES[level],
    // Over a basemap the land shows through; alone, a light fill sets the areas apart from the background.
    fillColor: "#fbfaf6",
    fillOpacity: basemap ? 0 : 0.45,
  };
}

function strings() {
  return document.getElementById("civmil-i18n")?.dataset ?? {};
}

function sources() {
  return document.getElementById("civmil-map-sources")?.dataset ?? {};
}

function leaflet() {
  return window.L;
}

// ---- helpers ----------------------------------------------------------------------

function parseNumber(text) {
  if (text === null || text === undefined) {
    return null;
  }
  const trimmed = String(text).trim().replace(",", ".");
  if (trimmed === "" || !/^[-+]?\d+(\.\d+)?$/.test(trimmed)) {
    return null;
  }
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : null;
}

function parseLatLon(lat, lon) {
  const la = parseNumber(lat);
  const lo = parseNumber(lon);
  if (la === null || lo === null || la < -90 || la > 90 || lo < -180 || lo > 180) {
    return null;
  }
  return [la, lo];
}

function parseCenter(text) {
  if (!text) {
    return null;
  }
  const parts = String(text).split(",");
  return parts.length === 2 ? parseLatLon(parts[0], parts[1]) : null;
}

function safeUrl(url) {
  if (typeof url !== "string" || url === "") {
    return null;
  }
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

async function fetchJson(url) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "application/geo+json, application/json" },
  });
  if (!response.ok) {
    throw new Error(`${url}: HTTP ${response.status}`);
  }
  return response.json();
}

function embeddedJson(id) {
  const element = document.getElementById(id);
  if (!element) {
    throw new Error(`no element with id ${id}`);
  }
  return JSON.parse(element.textContent);
}

function statusFor(el) {
  let status = el.nextElementSibling;
  if (!status || !status.classList.contains("map-status")) {
    status = document.createElement("div");
    status.className = "map-status";
    status.setAttribute("role", "status");
    el.after(status);
  }
  return status;
}

function reportFailure(el, error) {
  console.warn("civmil map:", error);
  const status = statusFor(el);
  status.className = "map-status notice warning";
  status.textContent = strings().mapFailed || "The map data could not be loaded.";
}

// Text of a feature (a place, officer or area name, imported or typed by anyone) as a DOM node:
// never markup. Leaflet inserts a *string* given to bindTooltip/bindPopup as HTML, so only nodes
// are given to it. dir="auto" isolates the text's direction: a right-to-left override inside it
// cannot turn the text around it.
function textElement(tag, text) {
  const element = document.createElement(tag);
  element.textContent = String(text);
  element.dir = "auto";
  return element;
}

// A popup built from DOM nodes: feature properties are data, never markup.
function popupFor(properties) {
  const name = properties?.name ?? properties?.title;
  const url = safeUrl(properties?.url);
  if (!name && !url) {
    return null;
  }
  const box = document.createElement("div");
  const title = textElement(url ? "a" : "strong", name ? name : strings().open || "Open");
  if (url) {
    title.href = url;
  }
  box.append(title);
  const detail = properties?.pcode ?? properties?.summary;
  if (detail) {
    box.append(textElement("div", detail));
  }
  return box;
}

// The card of a map layer's feature, loaded into its popup when the popup first opens. The card is
// a page fragment civmil renders (escaped, as the reader's view gives the record); scripts in it are
// dropped and never run.
function bindCardPopup(layer, properties) {
  const url = safeUrl(properties?.card);
  if (!url) {
    return false;
  }
  const text = strings();
  const box = popupFor(properties) ?? document.createElement("div");
  box.classList.add("map-popup");
  const body = document.createElement("div");
  body.className = "map-card";
  body.textContent = text.mapCardLoading || "Loading the details…";
  box.append(body);
  layer.bindPopup(box, { minWidth: 240, maxWidth: 360 });
  let loading = null;
  layer.on("popupopen", () => {
    if (loading) {
      return;
    }
    loading = fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then((response) => {
        if (!response.ok) {
          throw new Error(`${url}: HTTP ${response.status}`);
        }
        return response.text();
      })
      .then((html) => {
        const card = new DOMParser().parseFromString(html, "text/html");
        for (const script of card.querySelectorAll("script")) {
          script.remove();
        }
        body.replaceChildren(...Array.from(card.body.childNodes, (node) => document.importNode(node, true)));
        layer.getPopup()?.update();
      })
      .catch((error) => {
        console.warn("civmil map:", error);
        body.textContent = text.mapCardFailed || "The details could not be loaded.";
        loading = null;
      });
  });
  return true;
}

function tooltipFor(properties) {
  const name = properties?.name;
  return name ? textElement("span", name) : null;
}

function colourFor(properties) {
  // A map layer's feature carries the colour of its style field's value.
  if (typeof properties?.colour === "string" && /^#[0-9a-fA-F]{3,8}$/.test(properties.colour)) {
    return properties.colour;
  }
  return LEVEL_COLOURS[properties?.level] ?? FEATURE_COLOUR;
}

function pointCount(geojson) {
  const features = geojson?.type === "FeatureCollection" ? geojson.features ?? [] : [geojson];
  return features.filter((f) => f?.geometry?.type === "Point").length;
}

// ---- the basemap -------------------------------------------------------------------
//
// One style for the two kinds of file a mission may have: the basemap civmil builds (layers towns,
// roads, rivers, water, boundaries, areas, area_lines, area_labels: civmil/actors/basemap.py) and a
// Protomaps basemap extract of a real country (layers earth, landcover, water, roads, boundaries,
// places). A rule whose layer is not in the file draws nothing.

const BASEMAP = {
  land: "#f3f1ea",
  water: "#aacbe4",
  waterText: "#2f6690",
  roadMajor: "#f6cf7a",
  roadMajorCasing: "#b58a3c",
  roadMinor: "#ffffff",
  roadMinorCasing: "#b9b2a3",
  track: "#9c927e",
  boundary: "#6a5a7d",
  text: "#27313d",
  halo: "#ffffff",
  park: "#dfead0",
};
const MAJOR_ROADS = new Set(["major", "highway", "major_road", "medium_road", "trunk", "primary"]);
const TRACKS = new Set(["track", "path", "other"]);

function roadClass(feature) {
  const kind = String(feature.props?.kind ?? "");
  if (MAJOR_ROADS.has(kind)) {
    return "major";
  }
  return TRACKS.has(kind) ? "track" : "minor";
}

function byZoom(stops) {
  // Linear between [zoom, value] stops, flat outside them.
  return (z) => {
    if (z <= stops[0][0]) {
      return stops[0][1];
    }
    for (let i = 1; i < stops.length; i += 1) {
      const [z1, v1] = stops[i];
      const [z0, v0] = stops[i - 1];
      if (z <= z1) {
        return v0 + ((v1 - v0) * (z - z0)) / (z1 - z0);
      }
    }
    return stops[stops.length - 1][1];
  };
}

const TOWN_FONTS = {
  capital: "700 14px system-ui, sans-serif",
  city: "700 14px system-ui, sans-serif",
  town: "600 13px system-ui, sans-serif",
  village: "400 12px system-ui, sans-serif",
  site: "italic 400 11px system-ui, sans-serif",
};

function townKind(feature) {
  const kind = String(feature.props?.kind ?? "");
  if (kind in TOWN_FONTS) {
    return kind;
  }
  // A Protomaps extract: localities ranked by population.
  const rank = Number(feature.props?.population_rank ?? 0);
  return rank >= 11 ? "city" : rank >= 8 ? "town" : "village";
}

function basemapRules(P) {
  const isPolygon = (z, f) => f.geomType === P.GeomType.Polygon;
  const isLine = (z, f) => f.geomType === P.GeomType.Line;
  const isPoint = (z, f) => f.geomType === P.GeomType.Point;
  const level = (f) => Number(f.props?.admin_level ?? f.props?.kind_detail ?? 4);
  const paintRules = [
    { dataLayer: "earth", symbolizer: new P.PolygonSymbolizer({ fill: BASEMAP.land }) },
    { dataLayer: "landcover", symbolizer: new P.PolygonSymbolizer({ fill: BASEMAP.park, opacity: 0.5 }) },
    { dataLayer: "water", filter: isPolygon, symbolizer: new P.PolygonSymbolizer({ fill: BASEMAP.water }) },
    { dataLayer: "water", filter: isLine, symbolizer: new P.LineSymbolizer({ color: BASEMAP.water, width: 1.5 }) },
    { dataLayer: "rivers", symbolizer: new P.LineSymbolizer({
      color: BASEMAP.water,
      width: (z, f) => (f?.props?.kind === "stream" ? 1 : byZoom([[5, 1.2], [12, 4]])(z)),
      lineCap: "round",
    }) },
    { dataLayer: "area_lines", filter: (z, f) => level(f) >= 2, symbolizer: new P.LineSymbolizer({
      color: BASEMAP.boundary, opacity: 0.7, width: (z, f) => (level(f) >= 3 ? 0.7 : 1.1), dash: [5, 3],
    }) },
    { dataLayer: "area_lines", filter: (z, f) => level(f) < 2, symbolizer: new P.LineSymbolizer({
      color: BASEMAP.boundary, opacity: 0.8, width: byZoom([[5, 1.2], [10, 2.2]]),
    }) },
    { dataLayer: "roads", filter: (z, f) => roadClass(f) === "track", symbolizer: new P.LineSymbolizer({
      color: BASEMAP.track, width: 1, dash: [3, 2],
    }) },
    { dataLayer: "roads", filter: (z, f) => roadClass(f) === "minor", symbolizer: new P.LineSymbolizer({
      color: BASEMAP.roadMinorCasing, width: byZoom([[7, 1.5], [12, 5]]), lineCap: "round",
    }) },
    { dataLayer: "roads", filter: (z, f) => roadClass(f) === "minor", symbolizer: new P.LineSymbolizer({
      color: BASEMAP.roadMinor, width: byZoom([[7, 0.8], [12, 3.5]]), lineCap: "round",
    }) },
    { dataLayer: "roads", filter: (z, f) => roadClass(f) === "major", symbolizer: new P.LineSymbolizer({
      color: BASEMAP.roadMajorCasing, width: byZoom([[5, 1.5], [12, 7]]), lineCap: "round",
    }) },
    { dataLayer: "roads", filter: (z, f) => roadClass(f) === "major", symbolizer: new P.LineSymbolizer({
      color: BASEMAP.roadMajor, width: byZoom([[5, 0.8], [12, 5]]), lineCap: "round",
    }) },
    { dataLayer: "boundaries", symbolizer: new P.LineSymbolizer({
      color: BASEMAP.boundary,
      width: (z, f) => (level(f) <= 2 || f?.props?.kind === "country" ? 2.5 : 1),
      dash: [8, 3, 2, 3],
    }) },
    ...["towns", "places"].map((layer) => ({
      dataLayer: layer,
      filter: (z, f) => layer === "towns" || f.props?.kind === "locality",
      symbolizer: new P.CircleSymbolizer({
        radius: (z, f) => ({ capital: 5, city: 5, town: 4 })[townKind(f)] ?? 2.5,
        fill: (z, f) => (townKind(f) === "site" ? "#ffffff" : "#3b3b3b"),
        stroke: "#3b3b3b",
        width: 1,
      }),
    })),
  ];
  const townLabel = (layer) => ({
    dataLayer: layer,
    filter: (z, f) => layer === "towns" || f.props?.kind === "locality",
    sort: (a, b) => Number(b.population_rank ?? 0) - Number(a.population_rank ?? 0),
    symbolizer: new P.OffsetTextSymbolizer({
      labelProps: ["name"],
      font: (z, f) => TOWN_FONTS[townKind(f)],
      fill: BASEMAP.text,
      stroke: BASEMAP.halo,
      width: 2.5,
      offsetX: 6,
      offsetY: 4,
    }),
  });
  const labelRules = [
    townLabel("towns"),
    townLabel("places"),
    { dataLayer: "area_labels", symbolizer: new P.CenteredTextSymbolizer({
      labelProps: ["name"],
      font: (z, f) => (level(f) <= 1 ? "600 13px system-ui, sans-serif" : "600 11px system-ui, sans-serif"),
      textTransform: "uppercase",
      letterSpacing: 1,
      fill: BASEMAP.boundary,
      stroke: BASEMAP.halo,
      width: 2,
    }) },
    { dataLayer: "rivers", symbolizer: new P.LineLabelSymbolizer({
      labelProps: ["name"], font: "italic 400 12px system-ui, sans-serif", fill: BASEMAP.waterText,
      stroke: BASEMAP.halo, width: 2,
    }) },
    { dataLayer: "water", filter: isPoint, symbolizer: new P.CenteredTextSymbolizer({
      labelProps: ["name"], font: "italic 400 12px system-ui, sans-serif", fill: BASEMAP.waterText,
      stroke: BASEMAP.halo, width: 2,
    }) },
    { dataLayer: "roads", filter: (z, f) => roadClass(f) === "major", symbolizer: new P.LineLabelSymbolizer({
      labelProps: ["ref", "name"], font: "600 10px system-ui, sans-serif", fill: "#6b4f16", stroke: BASEMAP.halo,
      width: 2,
    }) },
  ];
  return { paintRules, labelRules };
}

// One reader per archive and page: the maps of a page share its header, directories and tiles.
const ARCHIVES = new Map();

function archive(url) {
  if (!ARCHIVES.has(url)) {
    const file = new window.pmtiles.PMTiles(url);
    ARCHIVES.set(url, file.getHeader().then((header) => ({ file, header })));
  }
  return ARCHIVES.get(url);
}

function basemapUrl(el) {
  if (el.dataset.basemap === "off") {
    return "";
  }
  return sources().basemapUrl || "";
}

// The attribution an extract carries (e.g. OpenStreetMap's), shown as text: never the file's markup.
function attributionText(metadata) {
  const raw = typeof metadata?.attribution === "string" ? metadata.attribution : "";
  const text = new DOMParser().parseFromString(raw, "text/html").body.textContent?.trim() ?? "";
  const escaped = document.createElement("span");
  escaped.textContent = text;
  return escaped.innerHTML;
}

function addBasemap(el, map) {
  const url = basemapUrl(el);
  const P = window.protomapsL;
  if (!url || !P || !window.pmtiles) {
    return Promise.resolve(null);
  }
  const L = leaflet();
  return archive(url).then(({ file, header }) => {
    const { paintRules, labelRules } = basemapRules(P);
    const layer = P.leafletLayer({
      url: file,
      paintRules,
      labelRules,
      backgroundColor: BASEMAP.land,
      maxDataZoom: header.maxZoom,
      attribution: "",
    });
    layer.addTo(map);
    el.dataset.basemapState = "ready";
    file.getMetadata().then((metadata) => {
      const text = attributionText(metadata);
      if (text) {
        L.control.attribution({ prefix: false }).addAttribution(text).addTo(map);
      }
    }).catch(() => {});
    return layer;
  }).catch((error) => {
    // The records and areas still show; the map is only missing its background.
    console.warn("civmil map: the basemap could not be read:", error);
    el.dataset.basemapState = "failed";
    return null;
  });
}

// ---- building a map -----------------------------------------------------------------

function createMap(el) {
  const L = leaflet();
  const text = strings();
  const map = L.map(el, {
    maxZoom: MAX_ZOOM,
    minZoom: 1,
    attributionControl: false,
    zoomControl: false,
    worldCopyJump: true,
  });
  L.control.zoom({ zoomInTitle: text.zoomIn || "Zoom in", zoomOutTitle: text.zoomOut || "Zoom out" }).addTo(map);
  map.createPane("areas");
  map.getPane("areas").style.zIndex = "350";
  addBasemap(el, map);
  if (!el.hasAttribute("aria-label") && !el.hasAttribute("aria-labelledby")) {
    el.setAttribute("aria-label", text.map || "Map");
  }
  if (!el.hasAttribute("role")) {
    el.setAttribute("role", "region");
  }
  const center = parseCenter(el.dataset.center);
  const zoom = parseNumber(el.dataset.zoom);
  map.setView(center ?? DEFAULT_CENTER, zoom ?? (center ? POINT_ZOOM : DEFAULT_ZOOM));
  return map;
}

function areasUrl(el) {
  if (el.dataset.areas === "off") {
    return "";
  }
  return el.dataset.areasUrl || sources().areasUrl || "";
}

function addAreas(el, map, { interactive }) {
  const url = areasUrl(el);
  if (!url) {
    return Promise.resolve(null);
  }
  const L = leaflet();
  const basemap = Boolean(basemapUrl(el));
  return fetchJson(url).then((geojson) => {
    const layer = L.geoJSON(geojson, {
      pane: "areas",
      interactive,
      style: (feature) => areaStyle(feature?.properties, { basemap }),
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, { radius: 3, ...areaStyle(feature?.properties, { basemap }) }),
      onEachFeature: (feature, featureLayer) => {
        if (interactive) {
          const popup = popupFor(feature.properties);
          if (popup) {
            featureLayer.bindPopup(popup);
          }
        }
        // The basemap labels its areas itself (placed so that labels do not collide).
        const name = feature.properties?.name;
        if (!basemap && name && typeof featureLayer.getBounds === "function") {
          featureLayer.bindTooltip(textElement("span", name), {
            permanent: true, direction: "center", className: "area-label", pane: "areas", interactive: false,
          });
        }
      },
    });
    layer.addTo(map);
    return layer;
  });
}

function featureLayer(geojson, clusterFrom) {
  const L = leaflet();
  const cluster = clusterFrom !== null && pointCount(geojson) >= clusterFrom && typeof L.markerClusterGroup === "function"
    ? L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 50 })
    : null;
  const layer = L.geoJSON(geojson, {
    style: (feature) => ({ color: colourFor(feature?.properties), weight: 2, fillOpacity: 0.2 }),
    pointToLayer: (feature, latlng) => L.circleMarker(latlng, {
      radius: 7,
      color: "#ffffff",
      weight: 2,
      fillColor: colourFor(feature?.properties),
      fillOpacity: 0.95,
    }),
    onEachFeature: (feature, layerOfFeature) => {
      if (!bindCardPopup(layerOfFeature, feature.properties)) {
        const popup = popupFor(feature.properties);
        if (popup) {
          layerOfFeature.bindPopup(popup);
        }
      }
      const tooltip = tooltipFor(feature.properties);
      if (tooltip) {
        layerOfFeature.bindTooltip(tooltip);
      }
    },
  });
  if (!cluster) {
    return layer;
  }
  // Points go into the cluster group; lines and polygons stay as they are.
  const group = L.featureGroup();
  layer.eachLayer((child) => {
    if (typeof child.getLatLng === "function") {
      cluster.addLayer(child);
    } else {
      group.addLayer(child);
    }
  });
  group.addLayer(cluster);
  return group;
}

function clusterThreshold(el) {
  const value = el.dataset.cluster;
  if (value === "off") {
    return null;
  }
  const number = parseNumber(value);
  return number !== null && number >= 1 ? number : DEFAULT_CLUSTER_FROM;
}

function fitTo(map, bounds) {
  if (bounds && bounds.isValid()) {
    map.fitBounds(bounds, { padding: [20, 20], maxZoom: FIT_MAX_ZOOM });
    return true;
  }
  return false;
}

function setupView(el, map) {
  const sources = [];
  if (el.dataset.geojsonId) {
    sources.push(Promise.resolve().then(() => embeddedJson(el.dataset.geojsonId)));
  }
  if (el.dataset.geojsonUrl) {
    sources.push(fetchJson(el.dataset.geojsonUrl));
  }
  const areas = addAreas(el, map, { interactive: true }).catch((error) => {
    reportFailure(el, error);
    return null;
  });
  const threshold = clusterThreshold(el);
  const L = leaflet();
  const features = Promise.all(sources.map((source) => source.then(
    (geojson) => featureLayer(geojson, threshold).addTo(map),
    (error) => {
      reportFailure(el, error);
      return null;
    },
  )));
  return Promise.all([features, areas]).then(([layers, areaLayer]) => {
    const hasCenter = Boolean(parseCenter(el.dataset.center));
    const bounds = L.latLngBounds([]);
    for (const layer of layers) {
      if (layer && typeof layer.getBounds === "function") {
        const b = layer.getBounds();
        if (b.isValid()) {
          bounds.extend(b);
        }
      }
    }
    if (!fitTo(map, bounds) && !hasCenter && areaLayer) {
      fitTo(map, areaLayer.getBounds());
    }
  });
}

function setupPicker(el, map) {
  const L = leaflet();
  const text = strings();
  const latInput = document.getElementById(el.dataset.latInput ?? "");
  const lonInput = document.getElementById(el.dataset.lonInput ?? "");
  if (!latInput || !lonInput) {
    throw new Error("a picker map needs data-lat-input and data-lon-input naming existing inputs");
  }
  el.classList.add("map-picker");
  const icon = L.divIcon({ className: "civmil-pin-icon", html: '<div class="civmil-pin"></div>', iconSize: [22, 22], iconAnchor: [11, 22] });
  let marker = null;

  function place(latlng, { pan }) {
    if (!marker) {
      marker = L.marker(latlng, { draggable: true, icon, title: text.selectedLocation || "Selected location", alt: text.selectedLocation || "Selected location" });
      marker.on("dragend", () => writeInputs(marker.getLatLng()));
      marker.addTo(map);
    } else {
      marker.setLatLng(latlng);
    }
    if (pan && !map.getBounds().contains(latlng)) {
      map.panTo(latlng);
    }
  }

  function removeMarker() {
    if (marker) {
      map.removeLayer(marker);
      marker = null;
    }
  }

  function announce(input) {
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  let writing = false;
  function writeInputs(latlng) {
    const wrapped = latlng.wrap();
    writing = true;
    latInput.value = wrapped.lat.toFixed(6);
    lonInput.value = wrapped.lng.toFixed(6);
    announce(latInput);
    announce(lonInput);
    writing = false;
    place(wrapped, { pan: false });
  }

  function readInputs() {
    if (writing) {
      return;
    }
    const point = parseLatLon(latInput.value, lonInput.value);
    if (point) {
      place(L.latLng(point[0], point[1]), { pan: true });
    } else if (latInput.value.trim() === "" && lonInput.value.trim() === "") {
      removeMarker();
    }
  }

  map.on("click", (event) => writeInputs(event.latlng));
  for (const input of [latInput, lonInput]) {
    input.addEventListener("input", readInputs);
    input.addEventListener("change", readInputs);
  }

  const tools = document.createElement("div");
  tools.className = "map-tools";
  const clear = document.createElement("button");
  clear.type = "button";
  clear.className = "btn btn-secondary btn-small map-clear";
  clear.textContent = text.clearLocation || "Clear location";
  clear.addEventListener("click", () => {
    writing = true;
    latInput.value = "";
    lonInput.value = "";
    announce(latInput);
    announce(lonInput);
    writing = false;
    removeMarker();
  });
  tools.append(clear);
  el.after(tools);

  const initial = parseLatLon(latInput.value, lonInput.value);
  if (initial) {
    place(L.latLng(initial[0], initial[1]), { pan: false });
    if (!parseCenter(el.dataset.center)) {
      map.setView(initial, parseNumber(el.dataset.zoom) ?? POINT_ZOOM);
    }
  }
  const areas = addAreas(el, map, { interactive: false }).then((layer) => {
    if (layer && !initial && !parseCenter(el.dataset.center)) {
      fitTo(map, layer.getBounds());
    }
  }, (error) => reportFailure(el, error));
  return areas;
}

export function initMap(el) {
  if (el.civmilMap || el.dataset.mapState === "failed") {
    return el.civmilMap ?? null;
  }
  const L = leaflet();
  if (!L) {
    reportFailure(el, new Error("Leaflet is not loaded"));
    el.dataset.mapState = "failed";
    return null;
  }
  const map = createMap(el);
  el.civmilMap = map;
  let ready;
  try {
    ready = el.dataset.map === "picker" ? setupPicker(el, map) : setupView(el, map);
  } catch (error) {
    reportFailure(el, error);
    ready = Promise.resolve();
  }
  Promise.resolve(ready).finally(() => {
    el.dataset.mapState = "ready";
    el.dispatchEvent(new CustomEvent("civmil:map-ready", { bubbles: true, detail: { map, L } }));
  });
  return map;
}

export function initMaps(scope = document) {
  const maps = [];
  if (scope instanceof Element && scope.matches("div.map[data-map]")) {
    maps.push(scope);
  }
  maps.push(...scope.querySelectorAll("div.map[data-map]"));
  return maps.map(initMap);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => initMaps(), { once: true });
} else {
  initMaps();
}
document.addEventListener("htmx:load", (event) => {
  if (event.detail?.elt instanceof Element) {
    initMaps(event.detail.elt);
  }
});
