// Keeps the store current: the SignalR hub /hubs/live when it is there (snapshot on subscribe, then frames of the
// changed vehicles), and GET /api/vehicles pages when it is not (or while it reconnects), so the map never goes
// blank because the live feed is down. The hub is retried in the background until it answers.
import * as signalR from "@microsoft/signalr";
import { getJson, withQuery } from "./api";
import { make, type LiveVehicle, type Row, RowReader, StateCode, type StateName, VehicleStore } from "./store";

export type LiveMode = "connecting" | "hub" | "reconnecting" | "rest";

export interface LiveScope {
  kind: "all" | "department" | "zone";
  id?: number;
}

interface Snapshot {
  seq: number;
  fields: string[];
  rows: Row[];
}

interface Frame {
  seq: number;
  rows: Row[];
  removed?: number[];
}

interface VehicleItem {
  id: number;
  live: { ts: number; lat: number; lon: number; spd: number | null; hdg: number | null; acc: boolean | null; state: StateName; online: boolean } | null;
}

interface Page<T> {
  items: T[];
  page: number;
  pageSize: number;
  total: number;
}

const hubPath = "/hubs/live";
const restPageSize = 500;
const restParallel = 3;
const restPollMs = 15_000;
/** How long the hub may be reconnecting before the REST fallback fills in. */
const reconnectGraceMs = 8_000;

export interface LiveFeedEvents {
  mode(mode: LiveMode): void;
  error(error: unknown): void;
  /** The first complete picture after a (re)start or a scope change has been applied. */
  loaded(count: number): void;
}

export class LiveFeed {
  private connection: signalR.HubConnection | null = null;
  private scope: LiveScope = { kind: "all" };
  private reader: RowReader | null = null;
  private seq = -1;
  private subscribing = false;
  private buffered: Frame[] = [];
  private subscribeGeneration = 0;
  private restGeneration = 0;
  private stopped = true;
  private hubRetry = 0;
  private hubRetryCount = 0;
  private pollTimer = 0;
  private graceTimer = 0;
  private restAbort: AbortController | null = null;
  private currentMode: LiveMode = "connecting";

  constructor(
    private readonly store: VehicleStore,
    private readonly events: LiveFeedEvents,
  ) {}

  get mode(): LiveMode {
    return this.currentMode;
  }

  async start(scope: LiveScope): Promise<void> {
    this.stopped = false;
    this.scope = scope;
    this.setMode("connecting");
    await this.startHub();
  }

  /** Switches to another scope: resubscribes on the hub, or reloads over REST. */
  async setScope(scope: LiveScope): Promise<void> {
    this.scope = scope;
    if (this.currentMode === "hub" && this.connection?.state === signalR.HubConnectionState.Connected) {
      await this.subscribe();
    } else {
      await this.loadRest();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.subscribeGeneration++;
    this.restGeneration++;
    window.clearTimeout(this.hubRetry);
    window.clearTimeout(this.graceTimer);
    this.stopPolling();
    const connection = this.connection;
    this.connection = null;
    if (connection) {
      await connection.stop().catch(() => undefined);
    }
  }

  private setMode(mode: LiveMode): void {
    if (mode !== this.currentMode) {
      this.currentMode = mode;
      this.events.mode(mode);
    }
  }

  private createConnection(): signalR.HubConnection {
    const connection = new signalR.HubConnectionBuilder()
      .withUrl(hubPath)
      .withAutomaticReconnect({
        // Never give up; back off to 30 s, with jitter so a restarted server is not hit by every browser at once.
        nextRetryDelayInMilliseconds: (context) => Math.min(30_000, 1000 * 2 ** Math.min(context.previousRetryCount, 5)) * (0.75 + Math.random() * 0.5),
      })
      .configureLogging(signalR.LogLevel.Warning)
      .build();
    connection.on("frame", (frame: Frame) => this.onFrame(frame));
    connection.onreconnecting(() => {
      this.setMode("reconnecting");
      window.clearTimeout(this.graceTimer);
      this.graceTimer = window.setTimeout(() => {
        if (this.currentMode === "reconnecting") {
          this.startPolling();
        }
      }, reconnectGraceMs);
    });
    connection.onreconnected(async () => {
      window.clearTimeout(this.graceTimer);
      try {
        await this.subscribe();
      } catch (error) {
        this.events.error(error);
        this.fallBack();
      }
    });
    connection.onclose(() => {
      if (!this.stopped && this.connection === connection) {
        this.connection = null;
        this.fallBack();
      }
    });
    return connection;
  }

  private async startHub(): Promise<void> {
    if (this.stopped) {
      return;
    }
    const connection = this.createConnection();
    this.connection = connection;
    try {
      await connection.start();
      await this.subscribe();
      this.hubRetryCount = 0;
    } catch (error) {
      if (this.connection === connection) {
        this.connection = null;
      }
      await connection.stop().catch(() => undefined);
      console.warn("Live hub unavailable; using the REST fallback.", error);
      this.fallBack();
    }
  }

  /** The hub is gone: show what REST knows, poll it, and try the hub again later. */
  private fallBack(): void {
    if (this.stopped) {
      return;
    }
    this.setMode("rest");
    this.startPolling();
    window.clearTimeout(this.hubRetry);
    const delay = Math.min(60_000, 5_000 * 2 ** Math.min(this.hubRetryCount++, 4));
    this.hubRetry = window.setTimeout(() => void this.startHub(), delay);
  }

  private async subscribe(): Promise<void> {
    const connection = this.connection;
    if (!connection) {
      return;
    }
    const generation = ++this.subscribeGeneration;
    this.subscribing = true;
    this.buffered = [];
    const scope = this.scope.kind === "all" ? { kind: "all" } : { kind: this.scope.kind, id: this.scope.id };
    let snapshot: Snapshot;
    try {
      snapshot = await connection.invoke<Snapshot>("subscribe", scope);
    } finally {
      if (generation === this.subscribeGeneration) {
        this.subscribing = false;
      }
    }
    if (generation !== this.subscribeGeneration) {
      return; // A newer subscribe (another scope) superseded this one.
    }
    this.reader = new RowReader(snapshot.fields);
    const reader = this.reader;
    const count = this.store.replace(readRows(reader, snapshot.rows));
    this.seq = snapshot.seq;
    // Frames that arrived while the snapshot was on its way: only the ones after it carry news.
    for (const frame of this.buffered) {
      this.onFrame(frame);
    }
    this.buffered = [];
    this.stopPolling();
    this.setMode("hub");
    this.events.loaded(count);
  }

  private onFrame(frame: Frame): void {
    if (this.subscribing || !this.reader) {
      this.buffered.push(frame);
      return;
    }
    if (frame.seq <= this.seq) {
      return; // Already contained in the snapshot.
    }
    this.seq = frame.seq;
    this.store.apply(readRows(this.reader, frame.rows ?? []), frame.removed ?? []);
  }

  private startPolling(): void {
    if (this.stopped) {
      return;
    }
    this.stopPolling();
    const poll = async () => {
      try {
        await this.loadRest();
      } catch (error) {
        this.events.error(error);
      }
      if (!this.stopped && (this.currentMode === "rest" || this.currentMode === "reconnecting")) {
        this.pollTimer = window.setTimeout(poll, restPollMs);
      }
    };
    void poll();
  }

  private stopPolling(): void {
    window.clearTimeout(this.pollTimer);
    this.pollTimer = 0;
    this.restAbort?.abort();
    this.restAbort = null;
  }

  /** Every vehicle in scope with a live position, a page of 500 at a time (a few pages in parallel). */
  private async loadRest(): Promise<void> {
    this.restAbort?.abort();
    const abort = new AbortController();
    this.restAbort = abort;
    const generation = ++this.restGeneration;
    const query = {
      pageSize: restPageSize,
      departmentId: this.scope.kind === "department" ? this.scope.id : undefined,
      zoneId: this.scope.kind === "zone" ? this.scope.id : undefined,
    };
    const first = await getJson<Page<VehicleItem>>(withQuery("/api/vehicles", { ...query, page: 1 }), { signal: abort.signal });
    const vehicles: LiveVehicle[] = [];
    collect(first.items, vehicles);
    const pages = Math.ceil(first.total / restPageSize);
    let next = 2;
    const worker = async () => {
      while (next <= pages && !abort.signal.aborted) {
        const page = next++;
        const result = await getJson<Page<VehicleItem>>(withQuery("/api/vehicles", { ...query, page }), { signal: abort.signal });
        collect(result.items, vehicles);
      }
    };
    await Promise.all(Array.from({ length: Math.min(restParallel, Math.max(0, pages - 1)) }, worker));
    if (generation !== this.restGeneration || abort.signal.aborted || this.currentMode === "hub") {
      return;
    }
    const count = this.store.replace(vehicles);
    this.events.loaded(count);
  }
}

function readRows(reader: RowReader, rows: Row[]): LiveVehicle[] {
  const vehicles: LiveVehicle[] = [];
  for (const row of rows) {
    const vehicle = reader.read(row);
    if (vehicle) {
      vehicles.push(vehicle);
    }
  }
  return vehicles;
}

function collect(items: VehicleItem[], into: LiveVehicle[]): void {
  for (const item of items) {
    const live = item.live;
    if (live) {
      const state = live.online ? (StateCode[live.state] ?? StateCode.unknown) : StateCode.offline;
      into.push(make(item.id, live.lat, live.lon, live.spd, live.hdg, state, live.acc, live.ts, live.online));
    }
  }
}
