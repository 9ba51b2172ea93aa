// Draws every vehicle on one canvas instead of one DOM marker each, so 23,000 of them pan and update smoothly.
// Redraws are coalesced into one per animation frame (live frames, pans, zooms, filter changes), positions come
// from Web Mercator values computed once per fix, and clicks are resolved with a grid of the points drawn last.
import * as L from "leaflet";
import { type LiveVehicle, type StateCode, stateColours, stateNames, VehicleStore } from "./store";

const cellSize = 24;

/** A uniform grid over the viewport of the points drawn, for hit-testing clicks and hovers in O(1). */
class HitGrid {
  private cols = 0;
  private rows = 0;
  private cells: number[][] = [];
  ids = new Float64Array(1024);
  xs = new Float32Array(1024);
  ys = new Float32Array(1024);
  count = 0;

  reset(width: number, height: number): void {
    this.cols = Math.max(1, Math.ceil(width / cellSize));
    this.rows = Math.max(1, Math.ceil(height / cellSize));
    const needed = this.cols * this.rows;
    if (this.cells.length !== needed) {
      this.cells = Array.from({ length: needed }, () => []);
    } else {
      for (const cell of this.cells) {
        cell.length = 0;
      }
    }
    this.count = 0;
  }

  insert(id: number, x: number, y: number): void {
    if (this.count === this.ids.length) {
      this.ids = grow(this.ids, new Float64Array(this.count * 2));
      this.xs = grow(this.xs, new Float32Array(this.count * 2));
      this.ys = grow(this.ys, new Float32Array(this.count * 2));
    }
    const index = this.count++;
    this.ids[index] = id;
    this.xs[index] = x;
    this.ys[index] = y;
    const col = Math.floor(x / cellSize);
    const row = Math.floor(y / cellSize);
    if (col >= 0 && row >= 0 && col < this.cols && row < this.rows) {
      this.cells[row * this.cols + col].push(index);
    }
  }

  /** The id of the point nearest to (x, y) within radius; ties go to the one drawn last (on top). */
  nearest(x: number, y: number, radius: number): number | null {
    let best: number | null = null;
    let bestDistance = radius * radius;
    const minCol = Math.max(0, Math.floor((x - radius) / cellSize));
    const maxCol = Math.min(this.cols - 1, Math.floor((x + radius) / cellSize));
    const minRow = Math.max(0, Math.floor((y - radius) / cellSize));
    const maxRow = Math.min(this.rows - 1, Math.floor((y + radius) / cellSize));
    for (let row = minRow; row <= maxRow; row++) {
      for (let col = minCol; col <= maxCol; col++) {
        for (const index of this.cells[row * this.cols + col]) {
          const dx = this.xs[index] - x;
          const dy = this.ys[index] - y;
          const distance = dx * dx + dy * dy;
          if (distance <= bestDistance) {
            bestDistance = distance;
            best = this.ids[index];
          }
        }
      }
    }
    return best;
  }
}

function grow<T extends Float32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

export interface DrawStats {
  /** Vehicles that pass the filters (what the layer shows, in view or not). */
  onLayer: number;
  /** Of those, the ones inside the current view. */
  inView: number;
}

export class VehicleLayer extends L.Layer {
  private map: L.Map | null = null;
  private canvas: HTMLCanvasElement | null = null;
  private context: CanvasRenderingContext2D | null = null;
  private frameRequest = 0;
  private zooming = false;
  private drawnBounds: L.LatLngBounds | null = null;
  private readonly grid = new HitGrid();
  private readonly buckets: number[][] = stateNames.map(() => []);
  private visible = new Set<StateCode>([0, 1, 2, 3, 4]);
  private selected: number | null = null;
  private hovered: number | null = null;

  constructor(
    private readonly store: VehicleStore,
    private readonly onSelect: (id: number) => void,
    private readonly onDrawn: (stats: DrawStats) => void,
  ) {
    super();
    store.onChange(() => this.redraw());
  }

  override onAdd(map: L.Map): this {
    this.map = map;
    const pane = map.getPane("vehicles") ?? map.createPane("vehicles");
    // Above Fleet's polygons and the track (overlayPane, 400), below markers, tooltips and popups.
    pane.style.zIndex = "450";
    pane.style.pointerEvents = "none";
    this.canvas = L.DomUtil.create("canvas", "fleet-vehicles leaflet-zoom-animated", pane);
    this.context = this.canvas.getContext("2d");
    map.on("move resize viewreset", this.redraw, this);
    map.on("zoomanim", this.animateZoom, this);
    map.on("zoomend", this.zoomEnded, this);
    map.on("click", this.clicked, this);
    map.on("mousemove", this.hovering, this);
    this.redraw();
    return this;
  }

  override onRemove(map: L.Map): this {
    map.off("move resize viewreset", this.redraw, this);
    map.off("zoomanim", this.animateZoom, this);
    map.off("zoomend", this.zoomEnded, this);
    map.off("click", this.clicked, this);
    map.off("mousemove", this.hovering, this);
    if (this.frameRequest) {
      cancelAnimationFrame(this.frameRequest);
      this.frameRequest = 0;
    }
    this.canvas?.remove();
    this.canvas = null;
    this.context = null;
    this.map = null;
    return this;
  }

  /** Shows only vehicles in these states (all when empty). */
  setVisibleStates(states: Iterable<StateCode>): void {
    const next = new Set(states);
    this.visible = next.size === 0 ? new Set<StateCode>([0, 1, 2, 3, 4]) : next;
    this.redraw();
  }

  isVisible(vehicle: LiveVehicle): boolean {
    return this.visible.has(vehicle.state);
  }

  setSelected(id: number | null): void {
    this.selected = id;
    this.redraw();
  }

  /** Schedules one redraw for the next animation frame, however often it is asked for before then. */
  redraw(): void {
    if (!this.frameRequest && this.map) {
      this.frameRequest = requestAnimationFrame(() => {
        this.frameRequest = 0;
        this.draw();
      });
    }
  }

  /** Where the vehicle is on the screen (client coordinates), or null when it is not drawn. */
  pixelOf(id: number): { x: number; y: number; inView: boolean } | null {
    const vehicle = this.store.get(id);
    if (!vehicle || !this.map || !this.visible.has(vehicle.state)) {
      return null;
    }
    const point = this.map.latLngToContainerPoint([vehicle.lat, vehicle.lon]);
    const size = this.map.getSize();
    const rect = this.map.getContainer().getBoundingClientRect();
    return {
      x: rect.left + point.x,
      y: rect.top + point.y,
      inView: point.x >= 0 && point.y >= 0 && point.x <= size.x && point.y <= size.y,
    };
  }

  private radius(zoom: number): number {
    return zoom < 6 ? 2.5 : zoom < 9 ? 3.5 : zoom < 13 ? 5 : 6.5;
  }

  private draw(): void {
    const map = this.map;
    const canvas = this.canvas;
    const context = this.context;
    if (!map || !canvas || !context || this.zooming) {
      return;
    }
    const size = map.getSize();
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(size.x * ratio) || canvas.height !== Math.round(size.y * ratio)) {
      canvas.width = Math.round(size.x * ratio);
      canvas.height = Math.round(size.y * ratio);
      canvas.style.width = `${size.x}px`;
      canvas.style.height = `${size.y}px`;
    }
    // The canvas covers the viewport: its top-left sits at the container's (0, 0) in the map pane's coordinates.
    L.DomUtil.setPosition(canvas, map.containerPointToLayerPoint([0, 0]));
    this.drawnBounds = map.getBounds();
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, size.x, size.y);

    const zoom = map.getZoom();
    const scale = 256 * Math.pow(2, zoom);
    const origin = map.project(map.containerPointToLatLng([0, 0]), zoom);
    const radius = this.radius(zoom);
    const margin = radius + 2;
    this.grid.reset(size.x, size.y);
    for (const bucket of this.buckets) {
      bucket.length = 0;
    }

    let onLayer = 0;
    let inView = 0;
    let selectedPoint: [number, number, StateCode] | null = null;
    for (const vehicle of this.store.vehicles.values()) {
      if (!this.visible.has(vehicle.state)) {
        continue;
      }
      onLayer++;
      const x = vehicle.mx * scale - origin.x;
      const y = vehicle.my * scale - origin.y;
      if (x < -margin || y < -margin || x > size.x + margin || y > size.y + margin) {
        continue;
      }
      inView++;
      this.buckets[vehicle.state].push(x, y, vehicle.hdg ?? -1);
      this.grid.insert(vehicle.id, x, y);
      if (vehicle.id === this.selected) {
        selectedPoint = [x, y, vehicle.state];
      }
    }

    const arrows = zoom >= 13;
    context.lineWidth = 1;
    context.strokeStyle = "rgba(255,255,255,0.9)";
    for (let state = 0; state < this.buckets.length; state++) {
      const points = this.buckets[state];
      if (points.length === 0) {
        continue;
      }
      context.fillStyle = stateColours[stateNames[state]];
      context.beginPath();
      for (let i = 0; i < points.length; i += 3) {
        context.moveTo(points[i] + radius, points[i + 1]);
        context.arc(points[i], points[i + 1], radius, 0, Math.PI * 2);
      }
      context.fill();
      if (radius >= 3.5) {
        context.stroke();
      }
      if (arrows && state === 0) {
        this.drawHeadings(context, points, radius);
      }
    }

    if (selectedPoint) {
      const [x, y] = selectedPoint;
      context.beginPath();
      context.arc(x, y, radius + 5, 0, Math.PI * 2);
      context.lineWidth = 3;
      context.strokeStyle = "#111827";
      context.stroke();
      context.lineWidth = 1.5;
      context.strokeStyle = "#ffffff";
      context.stroke();
    }

    this.onDrawn({ onLayer, inView });
  }

  /** A small arrowhead ahead of each moving vehicle that reports a heading. */
  private drawHeadings(context: CanvasRenderingContext2D, points: number[], radius: number): void {
    context.fillStyle = "#0b5e2b";
    context.beginPath();
    for (let i = 0; i < points.length; i += 3) {
      const heading = points[i + 2];
      if (heading < 0) {
        continue;
      }
      const angle = ((heading - 90) * Math.PI) / 180;
      const tipX = points[i] + Math.cos(angle) * (radius + 6);
      const tipY = points[i + 1] + Math.sin(angle) * (radius + 6);
      const leftX = points[i] + Math.cos(angle - 0.6) * (radius + 1);
      const leftY = points[i + 1] + Math.sin(angle - 0.6) * (radius + 1);
      const rightX = points[i] + Math.cos(angle + 0.6) * (radius + 1);
      const rightY = points[i + 1] + Math.sin(angle + 0.6) * (radius + 1);
      context.moveTo(tipX, tipY);
      context.lineTo(leftX, leftY);
      context.lineTo(rightX, rightY);
      context.closePath();
    }
    context.fill();
  }

  private animateZoom(event: L.ZoomAnimEvent): void {
    const map = this.map as (L.Map & { _latLngBoundsToNewLayerBounds?: (b: L.LatLngBounds, z: number, c: L.LatLng) => L.Bounds }) | null;
    if (!map || !this.canvas || !this.drawnBounds) {
      return;
    }
    this.zooming = true;
    // Scale the last drawing along with the tiles, as Leaflet's own overlays do, until zoomend redraws it.
    if (typeof map._latLngBoundsToNewLayerBounds === "function") {
      const offset = map._latLngBoundsToNewLayerBounds(this.drawnBounds, event.zoom, event.center).min;
      if (offset) {
        L.DomUtil.setTransform(this.canvas, offset, map.getZoomScale(event.zoom, map.getZoom()));
        return;
      }
    }
    this.canvas.style.visibility = "hidden";
  }

  private zoomEnded(): void {
    this.zooming = false;
    if (this.canvas) {
      this.canvas.style.visibility = "";
    }
    this.redraw();
  }

  private hit(point: L.Point): number | null {
    const radius = this.radius(this.map?.getZoom() ?? 10) + 4;
    return this.grid.nearest(point.x, point.y, radius);
  }

  private clicked(event: L.LeafletMouseEvent): void {
    const id = this.hit(event.containerPoint);
    if (id !== null) {
      this.onSelect(id);
    }
  }

  private hovering(event: L.LeafletMouseEvent): void {
    const id = this.hit(event.containerPoint);
    if (id !== this.hovered && this.map) {
      this.hovered = id;
      this.map.getContainer().classList.toggle("over-vehicle", id !== null);
    }
  }
}
