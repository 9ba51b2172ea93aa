// The live picture of the vehicles in scope: one entry per vehicle, fed by the hub (snapshot + frames) or by the
// REST fallback. Entries only move forward in event time, so a late or repeated row never moves a vehicle back.

export const StateCode = { moving: 0, stopped: 1, parked: 2, offline: 3, unknown: 4 } as const;
export type StateCode = (typeof StateCode)[keyof typeof StateCode];
export type StateName = keyof typeof StateCode;
export const stateNames: readonly StateName[] = ["moving", "stopped", "parked", "offline", "unknown"];

/** Colours by state: moving green, stopped amber, parked blue, offline red, unknown grey. */
export const stateColours: Record<StateName, string> = {
  moving: "#1e9e4a",
  stopped: "#e8a317",
  parked: "#3b6fd4",
  offline: "#d23c3c",
  unknown: "#8a8f98",
};

export interface LiveVehicle {
  id: number;
  lat: number;
  lon: number;
  spd: number | null;
  hdg: number | null;
  state: StateCode;
  acc: boolean | null;
  /** Event time of the newest fix, epoch ms. */
  ts: number;
  online: boolean;
  /** Web Mercator x and y in [0, 1], computed once per position for the canvas. */
  mx: number;
  my: number;
}

export const expectedFields = ["id", "lat", "lon", "spd", "hdg", "state", "acc", "ts", "online"] as const;

export type Row = readonly (number | null)[];

/** Reads hub rows by the field names the snapshot announced, so a reordered contract still reads right. */
export class RowReader {
  private readonly index: Record<(typeof expectedFields)[number], number>;

  constructor(fields: readonly string[]) {
    const index = {} as Record<(typeof expectedFields)[number], number>;
    for (const name of expectedFields) {
      const at = fields.indexOf(name);
      if (at < 0) {
        throw new Error(`The live snapshot has no "${name}" field (fields: ${fields.join(", ")}).`);
      }
      index[name] = at;
    }
    this.index = index;
  }

  read(row: Row): LiveVehicle | null {
    const i = this.index;
    const id = row[i.id];
    const lat = row[i.lat];
    const lon = row[i.lon];
    const ts = row[i.ts];
    if (typeof id !== "number" || typeof lat !== "number" || typeof lon !== "number" || typeof ts !== "number") {
      return null;
    }
    const state = row[i.state];
    const acc = row[i.acc];
    return make(id, lat, lon, row[i.spd] ?? null, row[i.hdg] ?? null, toStateCode(state), acc === null || acc === undefined ? null : acc === 1, ts, row[i.online] === 1);
  }
}

function toStateCode(value: number | null | undefined): StateCode {
  return value === 0 || value === 1 || value === 2 || value === 3 ? value : StateCode.unknown;
}

export function make(
  id: number,
  lat: number,
  lon: number,
  spd: number | null,
  hdg: number | null,
  state: StateCode,
  acc: boolean | null,
  ts: number,
  online: boolean,
): LiveVehicle {
  const [mx, my] = mercator(lat, lon);
  return { id, lat, lon, spd, hdg, state, acc, ts, online, mx, my };
}

/** Normalised Web Mercator (EPSG:3857 as Leaflet projects it): world pixel = value × 256 × 2^zoom. */
export function mercator(lat: number, lon: number): [number, number] {
  const clamped = Math.max(-85.0511287798, Math.min(85.0511287798, lat));
  const sin = Math.sin((clamped * Math.PI) / 180);
  const x = (lon + 180) / 360;
  const y = 0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI);
  return [x, y];
}

export class VehicleStore {
  readonly vehicles = new Map<number, LiveVehicle>();
  private readonly listeners = new Set<() => void>();

  /** Replaces everything (a snapshot); returns the count. */
  replace(entries: Iterable<LiveVehicle>): number {
    this.vehicles.clear();
    for (const entry of entries) {
      this.upsert(entry);
    }
    this.changed();
    return this.vehicles.size;
  }

  /** Applies changed rows and removals; a row older than what is known is ignored. */
  apply(entries: Iterable<LiveVehicle>, removed: Iterable<number> = []): void {
    for (const entry of entries) {
      this.upsert(entry);
    }
    for (const id of removed) {
      this.vehicles.delete(id);
    }
    this.changed();
  }

  get(id: number): LiveVehicle | undefined {
    return this.vehicles.get(id);
  }

  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  private upsert(entry: LiveVehicle): void {
    const known = this.vehicles.get(entry.id);
    if (!known || entry.ts >= known.ts) {
      this.vehicles.set(entry.id, entry);
    }
  }

  private changed(): void {
    for (const listener of this.listeners) {
      listener();
    }
  }
}
