// GET /api/vehicles/{id}/track: a GeoJSON FeatureCollection with one LineString (or Point) and per-point values in
// parallel arrays (ts[i] belongs to coordinates[i]).
import { getJson, withQuery } from "./api";

export interface TrackResponse {
  type: "FeatureCollection";
  features: {
    type: "Feature";
    geometry: { type: "LineString"; coordinates: [number, number][] } | { type: "Point"; coordinates: [number, number] };
    properties: { vehicleId: number; ts: number[]; spd: (number | null)[]; hdg: (number | null)[] };
  }[];
  vehicleId: number;
  plate: string;
  from: string;
  to: string;
  count: number;
  truncated: boolean;
  maxPoints: number;
}

export interface Track {
  /** [lat, lon] per point, in time order. */
  points: [number, number][];
  ts: number[];
  spd: (number | null)[];
  count: number;
  truncated: boolean;
}

/** The track in [from, to) (datetime-local values are Asia/Shanghai wall-clock time); both omitted: today. */
export async function loadTrack(vehicleId: number, from?: string, to?: string, signal?: AbortSignal): Promise<Track> {
  const response = await getJson<TrackResponse>(withQuery(`/api/vehicles/${vehicleId}/track`, { from, to }), { signal });
  const feature = response.features[0];
  if (!feature) {
    return { points: [], ts: [], spd: [], count: 0, truncated: response.truncated };
  }
  const coordinates = feature.geometry.type === "Point" ? [feature.geometry.coordinates] : feature.geometry.coordinates;
  return {
    points: coordinates.map(([lon, lat]) => [lat, lon] as [number, number]),
    ts: feature.properties.ts,
    spd: feature.properties.spd,
    count: response.count,
    truncated: response.truncated,
  };
}
