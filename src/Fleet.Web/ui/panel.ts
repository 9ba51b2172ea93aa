// The side panel of the selected vehicle: registry facts, the live values (kept current from the store), today's
// track as a polyline, and the replay of any time range.
import * as L from "leaflet";
import { getJson } from "./api";
import { onLocaleChange, t, tCode } from "./i18n";
import { showError } from "./notify";
import { Replay } from "./replay";
import { type LiveVehicle, stateNames, VehicleStore } from "./store";
import { formatDateTime, todayRange } from "./time";
import { loadTrack, type Track } from "./track";

interface NamedRef {
  id: number;
  name: string;
}

export interface VehicleDetail {
  id: number;
  plate: string;
  category: string;
  department: NamedRef;
  zone: NamedRef | null;
  model: string | null;
  energy: string;
  seats: number;
  status: string;
  driver: { id: number; name: string; phone: string | null } | null;
  live: { ts: number; lat: number; lon: number; spd: number | null; hdg: number | null; acc: boolean | null; state: string; online: boolean } | null;
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) {
    throw new Error(`#${id} is missing from index.html`);
  }
  return found as T;
}

export class VehiclePanel {
  private readonly root = element<HTMLElement>("panel");
  private readonly loading = element<HTMLElement>("panel-loading");
  private readonly trackSummary = element<HTMLElement>("track-summary");
  private readonly from = element<HTMLInputElement>("replay-from");
  private readonly to = element<HTMLInputElement>("replay-to");
  private readonly trackLayer = L.layerGroup();
  private readonly replay: Replay;
  private vehicleId: number | null = null;
  private detail: VehicleDetail | null = null;
  private track: Track | null = null;
  private trackLabel: "today" | "range" = "today";
  private abort: AbortController | null = null;

  constructor(
    private readonly map: L.Map,
    private readonly store: VehicleStore,
    private readonly onClose: () => void,
  ) {
    this.trackLayer.addTo(map);
    this.replay = new Replay(map, {
      play: element("replay-play"),
      speed: element("replay-speed"),
      slider: element("replay-slider"),
      label: element("replay-time"),
    });
    element<HTMLButtonElement>("panel-close").addEventListener("click", () => this.close());
    element<HTMLFormElement>("replay-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.loadRange();
    });
    store.onChange(() => this.renderLive());
    onLocaleChange(() => {
      this.render();
      this.replay.relabel();
    });
  }

  get layer(): L.LayerGroup {
    return this.trackLayer;
  }

  get openId(): number | null {
    return this.vehicleId;
  }

  async open(id: number): Promise<void> {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    this.vehicleId = id;
    this.detail = null;
    this.track = null;
    this.trackLabel = "today";
    this.replay.clear();
    this.trackLayer.clearLayers();
    const today = todayRange();
    this.from.value = today.from;
    this.to.value = today.to;
    this.root.hidden = false;
    this.root.dataset.vehicleId = String(id);
    delete this.root.dataset.trackPoints;
    this.loading.hidden = false;
    this.render();
    try {
      const [detail, track] = await Promise.all([
        getJson<VehicleDetail>(`/api/vehicles/${id}`, { signal: abort.signal }),
        loadTrack(id, undefined, undefined, abort.signal),
      ]);
      if (abort.signal.aborted) {
        return;
      }
      this.detail = detail;
      this.showTrack(track, "today");
    } catch (error) {
      if (!abort.signal.aborted) {
        showError(error);
      }
    } finally {
      if (this.abort === abort) {
        this.loading.hidden = true;
      }
    }
    this.render();
  }

  close(): void {
    this.abort?.abort();
    this.vehicleId = null;
    this.detail = null;
    this.track = null;
    this.replay.clear();
    this.trackLayer.clearLayers();
    this.root.hidden = true;
    delete this.root.dataset.vehicleId;
    delete this.root.dataset.trackPoints;
    this.onClose();
  }

  private async loadRange(): Promise<void> {
    const id = this.vehicleId;
    if (id === null || !this.from.value || !this.to.value) {
      return;
    }
    this.loading.hidden = false;
    try {
      const track = await loadTrack(id, this.from.value, this.to.value);
      if (this.vehicleId === id) {
        this.showTrack(track, "range");
        if (track.count === 0) {
          this.trackSummary.textContent = t("replay.empty");
        }
      }
    } catch (error) {
      showError(error);
    } finally {
      this.loading.hidden = true;
    }
  }

  private showTrack(track: Track, label: "today" | "range"): void {
    this.track = track;
    this.trackLabel = label;
    this.trackLayer.clearLayers();
    this.root.dataset.trackPoints = String(track.count);
    if (track.points.length > 0) {
      const line = L.polyline(track.points, { color: "#2563eb", weight: 4, opacity: 0.85, interactive: false, className: "fleet-track" });
      line.addTo(this.trackLayer);
      L.circleMarker(track.points[0], { radius: 5, color: "#065f46", fillColor: "#10b981", fillOpacity: 1, weight: 2, interactive: false }).addTo(this.trackLayer);
      if (track.points.length > 1) {
        const last = track.points[track.points.length - 1];
        L.circleMarker(last, { radius: 5, color: "#7f1d1d", fillColor: "#ef4444", fillOpacity: 1, weight: 2, interactive: false }).addTo(this.trackLayer);
        // Move the map only when part of the track is out of view.
        if (!this.map.getBounds().contains(line.getBounds())) {
          this.map.fitBounds(line.getBounds(), { padding: [40, 40], maxZoom: 16 });
        }
      }
    }
    this.replay.setTrack(track);
    this.render();
  }

  private render(): void {
    if (this.vehicleId === null) {
      return;
    }
    const detail = this.detail;
    set("v-plate", detail?.plate);
    set("v-department", detail?.department.name);
    set("v-zone", detail?.zone?.name);
    set("v-category", detail ? tCode("category", detail.category) : null);
    set("v-energy", detail ? tCode("energy", detail.energy) : null);
    set("v-driver", detail?.driver?.name);
    set("v-status", detail ? tCode("status", detail.status) : null);
    this.renderLive();
    const track = this.track;
    if (!track) {
      this.trackSummary.textContent = "";
    } else if (track.count === 0) {
      this.trackSummary.textContent = this.trackLabel === "today" ? t("panel.trackNone") : t("replay.empty");
    } else {
      this.trackSummary.textContent = track.truncated ? t("panel.trackTruncated", { count: track.count }) : t("panel.trackPoints", { count: track.count });
    }
  }

  /** Speed, state and last report: from the live store when it knows the vehicle, else from the detail. */
  private renderLive(): void {
    if (this.vehicleId === null) {
      return;
    }
    const live: LiveVehicle | undefined = this.store.get(this.vehicleId);
    const fallback = this.detail?.live ?? null;
    const speed = live ? live.spd : fallback?.spd ?? null;
    const ts = live ? live.ts : fallback?.ts ?? null;
    const state = live ? stateNames[live.state] : fallback ? (fallback.online ? fallback.state : "offline") : "unknown";
    const acc = live ? live.acc : fallback?.acc ?? null;
    set("v-speed", speed === null ? null : t("unit.kmh", { value: Math.round(speed * 10) / 10 }));
    set("v-acc", acc === null ? null : acc ? t("panel.accOn") : t("panel.accOff"));
    set("v-last", ts === null ? null : formatDateTime(ts));
    const stateElement = element<HTMLElement>("v-state");
    stateElement.textContent = tCode("state", state);
    stateElement.className = `state-badge state-${state}`;
  }
}

function set(id: string, value: string | null | undefined): void {
  element<HTMLElement>(id).textContent = value === null || value === undefined || value === "" ? t("common.none") : value;
}
