// Track replay: a marker moves along a loaded track in event time, at 1×, 10× or 60×, with a slider to seek.
import * as L from "leaflet";
import { t } from "./i18n";
import { formatDateTime } from "./time";
import type { Track } from "./track";

const sliderSteps = 1000;

export class Replay {
  private track: Track | null = null;
  private marker: L.CircleMarker | null = null;
  private playing = false;
  private time = 0;
  private lastFrame = 0;
  private frameRequest = 0;

  constructor(
    private readonly map: L.Map,
    private readonly elements: {
      play: HTMLButtonElement;
      speed: HTMLSelectElement;
      slider: HTMLInputElement;
      label: HTMLElement;
    },
  ) {
    elements.play.addEventListener("click", () => (this.playing ? this.pause() : this.play()));
    elements.slider.addEventListener("input", () => this.seek(Number(elements.slider.value) / sliderSteps));
    this.setTrack(null);
  }

  setTrack(track: Track | null): void {
    this.pause();
    this.track = track && track.ts.length > 0 ? track : null;
    const usable = this.track !== null;
    this.elements.play.disabled = !usable;
    this.elements.slider.disabled = !usable;
    this.elements.slider.value = "0";
    if (this.track) {
      this.time = this.track.ts[0];
      if (!this.marker) {
        this.marker = L.circleMarker(this.track.points[0], {
          radius: 8,
          color: "#111827",
          weight: 2,
          fillColor: "#facc15",
          fillOpacity: 1,
          interactive: false,
          pane: "markerPane",
          className: "fleet-replay-marker",
        }).addTo(this.map);
      }
    } else {
      this.marker?.remove();
      this.marker = null;
    }
    this.render();
  }

  clear(): void {
    this.setTrack(null);
  }

  play(): void {
    const track = this.track;
    if (!track) {
      return;
    }
    if (this.time >= track.ts[track.ts.length - 1]) {
      this.time = track.ts[0];
    }
    this.playing = true;
    this.lastFrame = performance.now();
    this.frameRequest = requestAnimationFrame(this.tick);
    this.relabel();
  }

  pause(): void {
    this.playing = false;
    if (this.frameRequest) {
      cancelAnimationFrame(this.frameRequest);
      this.frameRequest = 0;
    }
    this.relabel();
  }

  relabel(): void {
    this.elements.play.textContent = this.playing ? `⏸ ${t("replay.pause")}` : `▶ ${t("replay.play")}`;
    this.render();
  }

  private readonly tick = (now: number) => {
    const track = this.track;
    if (!this.playing || !track) {
      return;
    }
    const speed = Number(this.elements.speed.value) || 1;
    this.time += (now - this.lastFrame) * speed;
    this.lastFrame = now;
    const end = track.ts[track.ts.length - 1];
    if (this.time >= end) {
      this.time = end;
      this.render();
      this.pause();
      return;
    }
    this.render();
    this.frameRequest = requestAnimationFrame(this.tick);
  };

  private seek(fraction: number): void {
    const track = this.track;
    if (!track) {
      return;
    }
    const start = track.ts[0];
    const end = track.ts[track.ts.length - 1];
    this.time = start + (end - start) * fraction;
    this.render();
  }

  /** Moves the marker to the interpolated position at the current time and updates the slider and label. */
  private render(): void {
    const track = this.track;
    if (!track) {
      this.elements.label.textContent = "";
      return;
    }
    const ts = track.ts;
    const start = ts[0];
    const end = ts[ts.length - 1];
    // The last point at or before the current time.
    let low = 0;
    let high = ts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (ts[middle] <= this.time) {
        low = middle;
      } else {
        high = middle - 1;
      }
    }
    const next = Math.min(low + 1, ts.length - 1);
    const span = ts[next] - ts[low];
    const fraction = span > 0 ? Math.min(1, Math.max(0, (this.time - ts[low]) / span)) : 0;
    const [lat0, lon0] = track.points[low];
    const [lat1, lon1] = track.points[next];
    this.marker?.setLatLng([lat0 + (lat1 - lat0) * fraction, lon0 + (lon1 - lon0) * fraction]);
    if (!this.elements.slider.matches(":active")) {
      this.elements.slider.value = String(end > start ? Math.round(((this.time - start) / (end - start)) * sliderSteps) : 0);
    }
    const speed = track.spd[low];
    this.elements.label.textContent = `${formatDateTime(this.time)}${speed === null || speed === undefined ? "" : ` · ${t("unit.kmh", { value: Math.round(speed) })}`}`;
  }
}
