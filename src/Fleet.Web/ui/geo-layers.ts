// The basemap (tiles from Fleet:Map:TileUrl, when configured) and Fleet's own geography from /api/map/layers:
// region seats with their names, office zone boundaries and the designated lots the user may see. Without tiles
// these alone still show where things are. /api/map/roads, the simulator's road network per 盟市, is drawn beneath
// them all when the server offers it.
import * as L from "leaflet";
import type { Feature, FeatureCollection, Geometry } from "geojson";
import { getJson, probe } from "./api";
import { t, type MessageKey } from "./i18n";

export interface MapConfig {
  tileUrl: string | null;
  attribution: string | null;
  subdomains: string | null;
  maxZoom: number;
  centerLat: number;
  centerLon: number;
  zoom: number;
}

interface RoadProperties {
  regionCode: string;
  kind: "street" | "arterial" | "ring";
}

interface LayerProperties {
  layer: "region" | "zone" | "lot";
  id: number;
  name: string;
  level?: string;
}

export interface FleetLayers {
  /** Bounds of everything drawn, to frame the map before any vehicle is known. */
  bounds: L.LatLngBounds | null;
  /** Rebuilds the layer switcher's labels in the current language. */
  relabel(): void;
}

export async function loadMapConfig(): Promise<MapConfig> {
  return getJson<MapConfig>("/api/map/config");
}

export function addBasemap(map: L.Map, config: MapConfig): void {
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, {
      maxZoom: config.maxZoom,
      attribution: config.attribution ? escapeHtml(config.attribution) : "",
      subdomains: config.subdomains ?? "abc",
    }).addTo(map);
    map.getContainer().classList.remove("no-basemap");
  } else {
    map.getContainer().classList.add("no-basemap");
  }
}

export async function addFleetLayers(map: L.Map, extra: Partial<Record<MessageKey, L.Layer>>): Promise<FleetLayers> {
  const collection = await getJson<FeatureCollection<Geometry, LayerProperties>>("/api/map/layers");
  const regions = L.layerGroup();
  const zones = L.layerGroup();
  const lots = L.layerGroup();
  for (const feature of collection.features) {
    const properties = feature.properties;
    if (!properties || !feature.geometry) {
      continue;
    }
    if (properties.layer === "region") {
      regionMarker(feature)?.addTo(regions);
    } else {
      // Not interactive: a click anywhere on the map is for the vehicles underneath.
      L.geoJSON(feature, {
        interactive: false,
        style: properties.layer === "zone"
          ? { color: "#c2410c", weight: 2, dashArray: "6 4", fillColor: "#fdba74", fillOpacity: 0.12 }
          : { color: "#1d4ed8", weight: 1.5, fillColor: "#60a5fa", fillOpacity: 0.3 },
      }).addTo(properties.layer === "zone" ? zones : lots);
    }
  }
  regions.addTo(map);
  zones.addTo(map);
  lots.addTo(map);

  const overlays: Partial<Record<MessageKey, L.Layer>> = { "layers.regions": regions, "layers.zones": zones, "layers.lots": lots, ...extra };
  const roads = await probe("/api/map/roads");
  if (roads) {
    try {
      // Their own pane under the polygons (overlayPane, 400) and the vehicles (450), on one canvas: thousands of
      // SVG paths would slow panning down.
      const pane = map.getPane("roads") ?? map.createPane("roads");
      pane.style.zIndex = "350";
      pane.style.pointerEvents = "none";
      // GeoJSON options reach each line's constructor, so the path option renderer applies too.
      const options: L.GeoJSONOptions<RoadProperties> & L.PathOptions = {
        interactive: false,
        pane: "roads",
        renderer: L.canvas({ pane: "roads" }),
        style: (feature) => ({
          color: feature?.properties.kind === "street" ? "#b6bcc6" : "#8b94a3",
          weight: feature?.properties.kind === "street" ? 1 : 2,
          opacity: 0.9,
        }),
      };
      const lines = L.geoJSON((await roads.json()) as FeatureCollection<Geometry, RoadProperties>, options);
      lines.addTo(map);
      overlays["layers.roads"] = lines;
    } catch (error) {
      console.warn("The road network could not be read.", error);
    }
  }

  let control: L.Control.Layers | null = null;
  const relabel = () => {
    control?.remove();
    const named: Record<string, L.Layer> = {};
    for (const [key, layer] of Object.entries(overlays)) {
      if (layer) {
        named[t(key as MessageKey)] = layer;
      }
    }
    control = L.control.layers(undefined, named, { collapsed: true, position: "topright" }).addTo(map);
  };
  relabel();

  let bounds: L.LatLngBounds | null = null;
  for (const group of [regions, zones, lots]) {
    group.eachLayer((layer) => {
      const b = "getBounds" in layer ? (layer as L.FeatureGroup).getBounds() : L.latLngBounds([(layer as L.Marker).getLatLng()]);
      if (b.isValid()) {
        bounds = bounds ? bounds.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast());
      }
    });
  }
  return { bounds, relabel };
}

function regionMarker(feature: Feature<Geometry, LayerProperties>): L.Layer | null {
  if (feature.geometry.type !== "Point") {
    return null;
  }
  const [lon, lat] = feature.geometry.coordinates;
  const major = feature.properties.level !== "banner_county";
  return L.circleMarker([lat, lon], { radius: major ? 4 : 3, color: "#374151", weight: 1, fillColor: "#ffffff", fillOpacity: 1, interactive: false })
    .bindTooltip(feature.properties.name, { permanent: true, direction: "right", className: "region-label", offset: [6, 0] });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);
}
