// The header bar: counts by state from /api/stats/live (refreshed every few seconds), the filters (department and
// zone from the registry lists the user may see, state), the plate search and the language switch.
import { getJson, withQuery } from "./api";
import { t } from "./i18n";
import type { LiveScope } from "./live";
import { showError, toast } from "./notify";
import { type StateCode, StateCode as Codes, stateNames } from "./store";

export interface LiveStats {
  total: number;
  moving: number;
  stopped: number;
  parked: number;
  offline: number;
  unknown: number;
}

interface Department {
  id: number;
  name: string;
  regionName: string;
  zoneId: number | null;
}

interface Zone {
  id: number;
  name: string;
  regionName: string;
}

export interface PlateMatch {
  id: number;
  plate: string;
  department: { id: number; name: string };
  live: { lat: number; lon: number } | null;
}

const statsRefreshMs = 5_000;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) {
    throw new Error(`#${id} is missing from index.html`);
  }
  return found as T;
}

export class StatsBar {
  private timer = 0;
  private last: LiveStats | null = null;

  start(): void {
    this.stop();
    const refresh = async () => {
      if (!document.hidden) {
        try {
          this.show(await getJson<LiveStats>("/api/stats/live"));
        } catch (error) {
          showError(error);
        }
      }
      this.timer = window.setTimeout(refresh, statsRefreshMs);
    };
    void refresh();
  }

  stop(): void {
    window.clearTimeout(this.timer);
  }

  get stats(): LiveStats | null {
    return this.last;
  }

  private show(stats: LiveStats): void {
    this.last = stats;
    element("count-total").textContent = String(stats.total);
    for (const name of stateNames) {
      element(`count-${name}`).textContent = String(stats[name]);
    }
    const bar = element("stats");
    bar.dataset.total = String(stats.total);
    bar.dataset.unknown = String(stats.unknown);
  }
}

/** Shows how many vehicles the map draws (also as data-vehicle-count on the map, for tests and tools). */
export function showDrawnCount(count: number): void {
  element("count-on-map").textContent = String(count);
  element("map").dataset.vehicleCount = String(count);
}

export class Filters {
  private departments: Department[] = [];
  private zones: Zone[] = [];
  private readonly department = element<HTMLSelectElement>("filter-department");
  private readonly zone = element<HTMLSelectElement>("filter-zone");
  private readonly state = element<HTMLSelectElement>("filter-state");

  constructor(
    private readonly onScope: (scope: LiveScope) => void,
    private readonly onStates: (states: StateCode[]) => void,
  ) {
    this.department.addEventListener("change", () => this.onScope(this.scope()));
    this.zone.addEventListener("change", () => {
      this.renderDepartments();
      this.onScope(this.scope());
    });
    this.state.addEventListener("change", () => this.onStates(this.states()));
  }

  async load(): Promise<void> {
    const [departments, zones] = await Promise.all([
      getJson<Department[]>("/api/registry/departments"),
      getJson<Zone[]>("/api/registry/zones"),
    ]);
    this.departments = departments;
    this.zones = zones;
    this.render();
  }

  /** Department wins over zone: a department belongs to at most one zone. */
  scope(): LiveScope {
    const department = Number(this.department.value);
    if (department > 0) {
      return { kind: "department", id: department };
    }
    const zone = Number(this.zone.value);
    return zone > 0 ? { kind: "zone", id: zone } : { kind: "all" };
  }

  states(): StateCode[] {
    const value = this.state.value;
    return value in Codes ? [Codes[value as keyof typeof Codes]] : [];
  }

  /** Re-renders the option labels in the current language, keeping the choices. */
  render(): void {
    const zone = this.zone.value;
    this.zone.replaceChildren(option("", t("common.all")), ...this.zones.map((z) => option(String(z.id), `${z.name}`)));
    this.zone.value = this.zones.some((z) => String(z.id) === zone) ? zone : "";
    this.zone.disabled = this.zones.length === 0;
    this.renderDepartments();
    const state = this.state.value;
    this.state.replaceChildren(option("", t("common.all")), ...stateNames.filter((n) => n !== "unknown").map((n) => option(n, t(`state.${n}`))));
    this.state.value = state;
  }

  private renderDepartments(): void {
    const chosen = this.department.value;
    const zone = Number(this.zone.value);
    const shown = zone > 0 ? this.departments.filter((d) => d.zoneId === zone) : this.departments;
    this.department.replaceChildren(
      option("", t("common.all")),
      ...shown.map((d) => option(String(d.id), d.regionName && !d.name.startsWith(d.regionName) ? `${d.name}（${d.regionName}）` : d.name)),
    );
    this.department.value = shown.some((d) => String(d.id) === chosen) ? chosen : "";
  }
}

function option(value: string, label: string): HTMLOptionElement {
  const item = document.createElement("option");
  item.value = value;
  item.textContent = label;
  return item;
}

/** The plate search: one match selects it; several are listed to pick from. */
export class PlateSearch {
  private readonly form = element<HTMLFormElement>("search-form");
  private readonly input = element<HTMLInputElement>("search-plate");
  private readonly results = element<HTMLUListElement>("search-results");

  constructor(private readonly onPick: (match: PlateMatch) => void) {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.search();
    });
    document.addEventListener("click", (event) => {
      if (!this.form.contains(event.target as Node)) {
        this.results.hidden = true;
      }
    });
  }

  private async search(): Promise<void> {
    const plate = this.input.value.trim();
    if (!plate) {
      return;
    }
    try {
      const page = await getJson<{ items: PlateMatch[]; total: number }>(withQuery("/api/vehicles", { plate, pageSize: 20 }));
      if (page.items.length === 0) {
        this.results.hidden = true;
        toast("info", t("filter.noMatch", { plate }));
      } else if (page.items.length === 1) {
        this.results.hidden = true;
        this.onPick(page.items[0]);
      } else {
        this.results.replaceChildren(...page.items.map((match) => this.item(match)));
        this.results.hidden = false;
      }
    } catch (error) {
      showError(error);
    }
  }

  private item(match: PlateMatch): HTMLLIElement {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `${match.plate} · ${match.department.name}`;
    button.addEventListener("click", () => {
      this.results.hidden = true;
      this.onPick(match);
    });
    item.append(button);
    return item;
  }
}
