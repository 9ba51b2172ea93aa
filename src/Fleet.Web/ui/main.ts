// The map page: sign in (when /api/auth/me says 401), then the live map with its header, filters and panel.
import "leaflet/dist/leaflet.css";
import "./styles.css";
import * as L from "leaflet";
import { ApiError, getJson, postJson, setUnauthorizedHandler } from "./api";
import { addBasemap, addFleetLayers, loadMapConfig } from "./geo-layers";
import { Filters, PlateSearch, showDrawnCount, StatsBar, type PlateMatch } from "./header";
import { applyTo, type Locale, locale, onLocaleChange, parseLocale, setLocale, storedLocale, t } from "./i18n";
import { LiveFeed, type LiveMode } from "./live";
import { showError, toast, withBusy } from "./notify";
import { VehiclePanel } from "./panel";
import { stateColours, stateNames, VehicleStore } from "./store";
import { VehicleLayer } from "./vehicle-layer";

interface CurrentUser {
  username: string;
  displayName: string;
  role: string;
  departmentId: number | null;
  regionId: number | null;
  locale: string;
}

/** What tests and tools may ask the page (window.fleetMap). */
export interface FleetMapHook {
  pixelOf(id: number): { x: number; y: number; inView: boolean } | null;
  ids(): number[];
  count(): number;
  mode(): LiveMode;
  zoomTo(id: number, zoom?: number): boolean;
}

declare global {
  interface Window {
    fleetMap?: FleetMapHook;
  }
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) {
    throw new Error(`#${id} is missing from index.html`);
  }
  return found as T;
}

let app: MapApp | null = null;

async function boot(): Promise<void> {
  setLocale(storedLocale() ?? "zh-CN", false);
  const switches = [...document.querySelectorAll<HTMLSelectElement>("select.language-select")];
  for (const languages of switches) {
    languages.value = locale();
    languages.addEventListener("change", () => setLocale(parseLocale(languages.value) ?? "zh-CN", true));
  }
  onLocaleChange(() => switches.forEach((languages) => (languages.value = locale())));
  element<HTMLButtonElement>("logout").addEventListener("click", () => void logout());
  element<HTMLFormElement>("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    void login();
  });
  // The session ended under a running map (expired, or the account was changed): start over from the sign-in form.
  setUnauthorizedHandler(() => (app ? window.location.reload() : showLogin()));

  let user: CurrentUser | null = null;
  try {
    user = await withBusy(() => getJson<CurrentUser>("/api/auth/me", { quiet401: true }));
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      showError(error);
    }
  }
  if (user) {
    await startApp(user);
  } else {
    showLogin();
  }
}

function showLogin(): void {
  element("app").hidden = true;
  element("login").hidden = false;
  element<HTMLInputElement>("login-username").focus();
}

async function login(): Promise<void> {
  const username = element<HTMLInputElement>("login-username");
  const password = element<HTMLInputElement>("login-password");
  const error = element("login-error");
  const submit = element<HTMLButtonElement>("login-submit");
  error.hidden = true;
  submit.disabled = true;
  try {
    const user = await postJson<CurrentUser>("/api/auth/login", { username: username.value, password: password.value }, { quiet401: true });
    password.value = "";
    if (user) {
      await startApp(user);
    }
  } catch (failure) {
    error.textContent = failure instanceof ApiError ? (failure.problem.title ?? t("login.failed")) : t("login.failed");
    error.hidden = false;
  } finally {
    submit.disabled = false;
  }
}

async function logout(): Promise<void> {
  try {
    await postJson("/api/auth/logout", {});
  } catch (error) {
    showError(error);
  }
  // A fresh page: no map, feed or timer of the old session survives.
  window.location.reload();
}

async function startApp(user: CurrentUser): Promise<void> {
  // The language chosen on this browser wins; otherwise the user's own setting.
  const preferred: Locale = storedLocale() ?? parseLocale(user.locale) ?? "zh-CN";
  if (preferred !== locale()) {
    setLocale(preferred, false);
  }
  element("login").hidden = true;
  element("app").hidden = false;
  element("user-name").textContent = user.displayName || user.username;
  // The administration page serves administrators (users, tokens, audit) and supervisors (audit).
  element("admin-link").hidden = user.role !== "admin" && user.role !== "supervisor";
  if (!app) {
    app = new MapApp();
    await app.start();
  }
}

class MapApp {
  private readonly store = new VehicleStore();
  private readonly map: L.Map;
  private readonly layer: VehicleLayer;
  private readonly panel: VehiclePanel;
  private readonly stats = new StatsBar();
  private readonly filters: Filters;
  private readonly feed: LiveFeed;
  private framed = false;

  constructor() {
    this.map = L.map("map", { preferCanvas: false, zoomControl: true, attributionControl: true, worldCopyJump: false, minZoom: 3 });
    this.map.attributionControl.setPrefix(false);
    this.layer = new VehicleLayer(this.store, (id) => void this.select(id), ({ onLayer }) => showDrawnCount(onLayer));
    this.panel = new VehiclePanel(this.map, this.store, () => this.layer.setSelected(null));
    this.filters = new Filters(
      (scope) => {
        void withBusy(() => this.feed.setScope(scope)).catch(showError);
      },
      (states) => this.layer.setVisibleStates(states),
    );
    new PlateSearch((match) => void this.pick(match));
    this.feed = new LiveFeed(this.store, {
      mode: (mode) => this.showMode(mode),
      error: (error) => showError(error),
      loaded: () => this.frameVehicles(),
    });
    this.addLegend();
    onLocaleChange(() => this.filters.render());
    window.fleetMap = {
      pixelOf: (id) => this.layer.pixelOf(id),
      ids: () => [...this.store.vehicles.values()].filter((v) => this.layer.isVisible(v)).map((v) => v.id),
      count: () => Number(element("map").dataset.vehicleCount ?? 0),
      mode: () => this.feed.mode,
      zoomTo: (id, zoom = 15) => {
        const vehicle = this.store.get(id);
        if (!vehicle) {
          return false;
        }
        this.map.setView([vehicle.lat, vehicle.lon], zoom, { animate: false });
        return true;
      },
    };
  }

  async start(): Promise<void> {
    element("map").dataset.ready = "false";
    await withBusy(async () => {
      const [config] = await Promise.all([loadMapConfig(), this.filters.load()]);
      this.map.setView([config.centerLat, config.centerLon], config.zoom);
      this.map.setMaxZoom(config.maxZoom);
      addBasemap(this.map, config);
      if (!config.tileUrl) {
        // Said in the corner, in the current language, so nobody mistakes the empty background for a fault.
        let note = "";
        const showNote = () => {
          this.map.attributionControl.removeAttribution(note);
          note = `<span class="no-basemap-note">${t("map.noBasemap")}</span>`;
          this.map.attributionControl.addAttribution(note);
        };
        showNote();
        onLocaleChange(showNote);
      }
      this.layer.addTo(this.map);
      const layers = await addFleetLayers(this.map, { "layers.track": this.panel.layer });
      onLocaleChange(() => layers.relabel());
      if (layers.bounds && this.store.vehicles.size === 0) {
        this.map.fitBounds(layers.bounds, { padding: [20, 20] });
      }
      this.stats.start();
      await this.feed.start(this.filters.scope());
    }).catch(showError);
    element("map").dataset.ready = "true";
  }

  private async select(id: number): Promise<void> {
    this.layer.setSelected(id);
    await this.panel.open(id);
  }

  private async pick(match: PlateMatch): Promise<void> {
    const live = this.store.get(match.id);
    const position = live ? ([live.lat, live.lon] as [number, number]) : match.live ? ([match.live.lat, match.live.lon] as [number, number]) : null;
    if (position) {
      this.map.setView(position, Math.max(this.map.getZoom(), 14));
    } else {
      toast("info", t("filter.noPosition", { plate: match.plate }));
    }
    await this.select(match.id);
  }

  /** The first time vehicles arrive, frame them all. */
  private frameVehicles(): void {
    if (this.framed || this.store.vehicles.size === 0) {
      return;
    }
    this.framed = true;
    let bounds: L.LatLngBounds | null = null;
    for (const vehicle of this.store.vehicles.values()) {
      if (bounds) {
        bounds.extend([vehicle.lat, vehicle.lon]);
      } else {
        bounds = L.latLngBounds([vehicle.lat, vehicle.lon], [vehicle.lat, vehicle.lon]);
      }
    }
    if (bounds) {
      this.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 14, animate: false });
    }
  }

  private showMode(mode: LiveMode): void {
    const badge = element("live-status");
    badge.dataset.mode = mode;
    badge.dataset.i18n = `live.${mode}`;
    badge.dataset.i18nTitle = mode === "rest" ? "live.restTitle" : "live.hubTitle";
    applyTo(badge.parentElement ?? badge);
    element("map").dataset.liveMode = mode;
  }

  private addLegend(): void {
    const legend = new L.Control({ position: "bottomleft" });
    legend.onAdd = () => {
      const box = L.DomUtil.create("div", "legend");
      box.setAttribute("role", "list");
      const render = () => {
        box.replaceChildren();
        const title = document.createElement("strong");
        title.textContent = t("legend.title");
        box.append(title);
        for (const name of stateNames) {
          const row = document.createElement("div");
          row.className = "legend-row";
          row.setAttribute("role", "listitem");
          const dot = document.createElement("span");
          dot.className = "legend-dot";
          dot.style.background = stateColours[name];
          const label = document.createElement("span");
          label.textContent = t(`state.${name}`);
          row.append(dot, label);
          box.append(row);
        }
      };
      render();
      onLocaleChange(render);
      return box;
    };
    legend.addTo(this.map);
  }
}

window.addEventListener("error", (event) => showError(event.error ?? event.message));
window.addEventListener("unhandledrejection", (event) => showError(event.reason));
applyTo(document);
void boot();
