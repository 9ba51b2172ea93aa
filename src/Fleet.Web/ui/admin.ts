// The administration and audit page (admin.html): users, API tokens and the audit log for administrators; the audit
// log alone for supervisors. Everything goes through the same REST API as any client, so the server decides.
import "./styles.css";
import "./admin.css";
import { ApiError, getJson, sendJson, withQuery, type ProblemDetails } from "./api";
import { applyTo, locale, type MessageKey, onLocaleChange, parseLocale, setLocale, storedLocale, t, tCode } from "./i18n";
import { showError, toast, withBusy } from "./notify";
import { formatDateTime } from "./time";

interface CurrentUser {
  username: string;
  displayName: string;
  role: string;
  locale: string;
}

interface Page<T> {
  items: T[];
  page: number;
  pageSize: number;
  total: number;
}

interface Department {
  id: number;
  name: string;
  regionName: string;
}

interface AdminUser {
  id: number;
  username: string;
  displayName: string;
  role: string;
  departmentId: number | null;
  departmentName: string | null;
  enabled: boolean;
  lockedUntil: string | null;
}

interface ApiToken {
  id: number;
  name: string;
  prefix: string;
  role: string;
  departmentName: string | null;
  canWrite: boolean;
  expiresAt: string;
  lastUsedAt: string | null;
  state: "active" | "expired" | "revoked";
}

interface AuditEntry {
  id: number;
  at: string;
  actorName: string | null;
  actorRole: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: Record<string, unknown>;
  clientIp: string | null;
}

interface AuditAction {
  name: string;
  recorded: boolean;
}

const roles = ["admin", "dispatcher", "department_manager", "supervisor", "driver", "requester"];
const departmentRoles = new Set(["department_manager", "driver", "requester"]);
const targetTypes = ["user", "api_token", "terminal", "vehicle", "order", "violation", "geofence", "calendar"];
const pageSize = 20;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) {
    throw new Error(`#${id} is missing from admin.html`);
  }
  return found as T;
}

function make<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) {
    node.textContent = text;
  }
  if (className) {
    node.className = className;
  }
  return node;
}

function option(value: string, label: string): HTMLOptionElement {
  const item = make("option", label);
  item.value = value;
  return item;
}

/** Sends a JSON write and turns a refusal into an ApiError carrying the server's ProblemDetails. */
async function write<T>(method: string, url: string, body?: unknown): Promise<T | null> {
  let response: Response;
  try {
    response = await sendJson(method, url, body);
  } catch (error) {
    if (error instanceof ApiError) {
      throw error;
    }
    throw new ApiError(0, { title: t("common.networkError"), detail: String(error) });
  }
  if (!response.ok) {
    let problem: ProblemDetails = { status: response.status, title: `${t("common.error")} (HTTP ${response.status})` };
    if ((response.headers.get("Content-Type") ?? "").includes("json")) {
      try {
        problem = { ...problem, ...((await response.json()) as ProblemDetails) };
      } catch {
        // Keep the status-only description.
      }
    }
    throw new ApiError(response.status, problem);
  }
  return response.status === 204 ? null : ((await response.json()) as T);
}

/** What went wrong and what to do, for the inline error line of a form. */
function explain(error: unknown): string {
  if (!(error instanceof ApiError)) {
    return error instanceof Error ? error.message : String(error);
  }
  const lines = [error.problem.title ?? t("admin.failed")];
  if (error.description) {
    lines.push(error.description);
  }
  if (error.status === 400) {
    lines.push(t("admin.fixFields"));
  } else if (error.status === 403) {
    lines.push(t("admin.forbidden"));
  } else if (error.status === 401) {
    lines.push(t("admin.sessionEnded"));
  }
  return lines.join("\n");
}

function showFormError(id: string, error: unknown): void {
  const line = element(id);
  line.textContent = explain(error);
  line.hidden = false;
}

function fillRoles(select: HTMLSelectElement): void {
  const chosen = select.value;
  select.replaceChildren(...roles.map((role) => option(role, tCode("role", role))));
  select.value = chosen || "requester";
}

function fillDepartments(select: HTMLSelectElement, departments: Department[]): void {
  const chosen = select.value;
  select.replaceChildren(
    option("", t("admin.none")),
    ...departments.map((d) => option(String(d.id), d.regionName && !d.name.startsWith(d.regionName) ? `${d.name}（${d.regionName}）` : d.name)),
  );
  select.value = chosen;
}

class Pager {
  page = 1;
  private total = 0;

  constructor(
    private readonly host: HTMLElement,
    private readonly reload: () => void,
  ) {
    host.querySelector<HTMLButtonElement>("[data-page=prev]")?.addEventListener("click", () => this.go(this.page - 1));
    host.querySelector<HTMLButtonElement>("[data-page=next]")?.addEventListener("click", () => this.go(this.page + 1));
  }

  show(total: number): void {
    this.total = total;
    const pages = Math.max(1, Math.ceil(total / pageSize));
    const info = this.host.querySelector(".pager-info");
    if (info) {
      info.textContent = t("admin.page", { page: this.page, pages, total });
    }
    this.host.querySelector<HTMLButtonElement>("[data-page=prev]")!.disabled = this.page <= 1;
    this.host.querySelector<HTMLButtonElement>("[data-page=next]")!.disabled = this.page >= pages;
  }

  private go(page: number): void {
    const pages = Math.max(1, Math.ceil(this.total / pageSize));
    this.page = Math.min(Math.max(1, page), pages);
    this.reload();
  }
}

class UsersPage {
  private departments: Department[] = [];
  private users: AdminUser[] = [];
  private readonly pager = new Pager(element("users-pager"), () => void this.load());
  private resetting: AdminUser | null = null;

  constructor() {
    element<HTMLFormElement>("user-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.create();
    });
    element<HTMLFormElement>("user-filter").addEventListener("submit", (event) => {
      event.preventDefault();
      this.pager.page = 1;
      void this.load();
    });
    element<HTMLFormElement>("password-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.resetPassword();
    });
    element("password-cancel").addEventListener("click", () => element<HTMLDialogElement>("password-dialog").close());
  }

  async start(departments: Department[]): Promise<void> {
    this.departments = departments;
    this.renderChoices();
    await this.load();
  }

  renderChoices(): void {
    fillRoles(element("user-role"));
    fillDepartments(element("user-department"), this.departments);
    this.render();
  }

  async load(): Promise<void> {
    try {
      const page = await getJson<Page<AdminUser>>(
        withQuery("/api/admin/users", { q: element<HTMLInputElement>("user-search").value.trim(), page: this.pager.page, pageSize }),
      );
      this.users = page.items;
      this.pager.show(page.total);
      this.render();
    } catch (error) {
      showError(error);
    }
  }

  private render(): void {
    const body = element("users-table").querySelector("tbody")!;
    body.replaceChildren(...this.users.map((user) => this.row(user)));
  }

  private row(user: AdminUser): HTMLTableRowElement {
    const row = make("tr");
    row.dataset.username = user.username;
    row.classList.toggle("inactive", !user.enabled);
    const role = make("select");
    role.className = "row-role";
    fillRoles(role);
    role.value = user.role;
    const department = make("select");
    department.className = "row-department";
    fillDepartments(department, this.departments);
    department.value = user.departmentId ? String(user.departmentId) : "";
    const locked = user.lockedUntil !== null && new Date(user.lockedUntil).getTime() > Date.now();
    const status = make("span", user.enabled ? (locked ? t("admin.users.locked") : t("admin.users.enabled")) : t("admin.users.disabled"));
    status.className = `badge ${user.enabled && !locked ? "ok" : "bad"}`;

    const save = make("button", t("admin.save"));
    save.type = "button";
    save.className = "row-save";
    save.addEventListener("click", () => void this.change(user, { role: role.value, departmentId: department.value ? Number(department.value) : null }));
    const toggle = make("button", user.enabled ? t("admin.users.disable") : t("admin.users.enable"));
    toggle.type = "button";
    toggle.className = "row-toggle";
    toggle.addEventListener("click", () => void this.change(user, { enabled: !user.enabled }));
    const reset = make("button", t("admin.users.resetPassword"));
    reset.type = "button";
    reset.className = "row-reset";
    reset.addEventListener("click", () => this.openReset(user));
    const actions = make("td", undefined, "actions");
    actions.append(save, toggle, reset);

    const cells = [make("td", user.username), make("td", user.displayName), make("td"), make("td"), make("td")];
    cells[2].append(role);
    cells[3].append(department);
    cells[4].append(status);
    row.append(...cells, actions);
    return row;
  }

  private async create(): Promise<void> {
    const error = element("user-form-error");
    error.hidden = true;
    const role = element<HTMLSelectElement>("user-role").value;
    const department = element<HTMLSelectElement>("user-department").value;
    if (departmentRoles.has(role) && !department) {
      error.textContent = t("admin.users.needDepartment");
      error.hidden = false;
      return;
    }
    const submit = element<HTMLButtonElement>("user-create");
    submit.disabled = true;
    try {
      const created = await withBusy(() =>
        write<AdminUser>("POST", "/api/admin/users", {
          username: element<HTMLInputElement>("user-username").value.trim(),
          displayName: element<HTMLInputElement>("user-display-name").value.trim(),
          password: element<HTMLInputElement>("user-password").value,
          role,
          departmentId: department ? Number(department) : null,
        }),
      );
      element<HTMLFormElement>("user-form").reset();
      this.renderChoices();
      toast("success", t("admin.users.created", { username: created?.username ?? "" }));
      await this.load();
    } catch (failure) {
      showFormError("user-form-error", failure);
    } finally {
      submit.disabled = false;
    }
  }

  private async change(user: AdminUser, patch: Record<string, unknown>): Promise<void> {
    if (typeof patch.role === "string" && departmentRoles.has(patch.role) && !patch.departmentId) {
      toast("error", t("admin.failed"), t("admin.users.needDepartment"));
      return;
    }
    try {
      await withBusy(() => write<AdminUser>("PATCH", `/api/admin/users/${user.id}`, patch));
      toast("success", t("admin.users.saved", { username: user.username }));
      await this.load();
    } catch (error) {
      toast("error", t("admin.failed"), explain(error));
    }
  }

  private openReset(user: AdminUser): void {
    this.resetting = user;
    element("password-user").textContent = `${user.displayName}（${user.username}）`;
    element<HTMLInputElement>("password-new").value = "";
    element("password-error").hidden = true;
    element<HTMLDialogElement>("password-dialog").showModal();
  }

  private async resetPassword(): Promise<void> {
    const user = this.resetting;
    if (!user) {
      return;
    }
    try {
      await withBusy(() => write("POST", `/api/admin/users/${user.id}/password`, { password: element<HTMLInputElement>("password-new").value }));
      element<HTMLDialogElement>("password-dialog").close();
      toast("success", t("admin.users.passwordDone", { username: user.username }));
      await this.load();
    } catch (error) {
      showFormError("password-error", error);
    }
  }
}

class TokensPage {
  private departments: Department[] = [];
  private tokens: ApiToken[] = [];

  constructor() {
    element<HTMLFormElement>("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      void this.create();
    });
  }

  async start(departments: Department[]): Promise<void> {
    this.departments = departments;
    this.renderChoices();
    await this.load();
  }

  renderChoices(): void {
    const role = element<HTMLSelectElement>("token-role");
    fillRoles(role);
    fillDepartments(element("token-department"), this.departments);
    this.render();
  }

  async load(): Promise<void> {
    try {
      const page = await getJson<Page<ApiToken>>(withQuery("/api/admin/tokens", { pageSize: 500 }));
      this.tokens = page.items;
      this.render();
    } catch (error) {
      showError(error);
    }
  }

  private render(): void {
    const body = element("tokens-table").querySelector("tbody")!;
    body.replaceChildren(
      ...this.tokens.map((token) => {
        const row = make("tr");
        row.dataset.tokenId = String(token.id);
        row.classList.toggle("inactive", token.state !== "active");
        const state = make("span", t(`admin.tokens.state.${token.state}` as MessageKey), `badge ${token.state === "active" ? "ok" : "bad"}`);
        const actions = make("td", undefined, "actions");
        if (token.state !== "revoked") {
          const revoke = make("button", t("admin.tokens.revoke"));
          revoke.type = "button";
          revoke.className = "row-revoke";
          revoke.addEventListener("click", () => void this.revoke(token));
          actions.append(revoke);
        }
        const stateCell = make("td");
        stateCell.append(state);
        row.append(
          make("td", token.name),
          make("td", `${token.prefix}…`),
          make("td", tCode("role", token.role)),
          make("td", token.departmentName ?? t("common.none")),
          make("td", token.canWrite ? t("admin.tokens.readWrite") : t("admin.tokens.readOnly")),
          make("td", formatDateTime(Date.parse(token.expiresAt))),
          make("td", token.lastUsedAt ? formatDateTime(Date.parse(token.lastUsedAt)) : t("common.none")),
          stateCell,
          actions,
        );
        return row;
      }),
    );
  }

  private async create(): Promise<void> {
    element("token-form-error").hidden = true;
    const role = element<HTMLSelectElement>("token-role").value;
    const department = element<HTMLSelectElement>("token-department").value;
    if (departmentRoles.has(role) && !department) {
      showFormError("token-form-error", new Error(t("admin.users.needDepartment")));
      return;
    }
    try {
      const created = await withBusy(() =>
        write<{ token: ApiToken; secret: string }>("POST", "/api/admin/tokens", {
          name: element<HTMLInputElement>("token-name").value.trim(),
          role,
          departmentId: department ? Number(department) : null,
          canWrite: element<HTMLInputElement>("token-write").checked,
          expiresInDays: Number(element<HTMLInputElement>("token-days").value),
        }),
      );
      // Shown once: the server keeps only its hash.
      element("token-secret").textContent = created?.secret ?? "";
      element("token-secret-box").hidden = false;
      element<HTMLFormElement>("token-form").reset();
      this.renderChoices();
      await this.load();
    } catch (error) {
      showFormError("token-form-error", error);
    }
  }

  private async revoke(token: ApiToken): Promise<void> {
    if (!window.confirm(t("admin.tokens.revokeConfirm", { name: token.name }))) {
      return;
    }
    try {
      await withBusy(() => write("DELETE", `/api/admin/tokens/${token.id}`));
      toast("success", t("admin.tokens.revoked", { name: token.name }));
      await this.load();
    } catch (error) {
      toast("error", t("admin.failed"), explain(error));
    }
  }
}

class AuditPage {
  private actions: AuditAction[] = [];
  private entries: AuditEntry[] = [];
  private readonly pager = new Pager(element("audit-pager"), () => void this.load());

  constructor() {
    element<HTMLFormElement>("audit-filter").addEventListener("submit", (event) => {
      event.preventDefault();
      this.pager.page = 1;
      void this.load();
    });
  }

  async start(): Promise<void> {
    this.actions = await getJson<AuditAction[]>("/api/audit/actions");
    this.renderChoices();
    await this.load();
  }

  renderChoices(): void {
    const action = element<HTMLSelectElement>("audit-action");
    const chosenAction = action.value;
    action.replaceChildren(
      option("", t("common.all")),
      ...this.actions.map((a) => option(a.name, `${tCode("audit", a.name)}${a.recorded ? "" : " " + t("admin.audit.notRecordedYet")}`)),
    );
    action.value = chosenAction;
    const target = element<HTMLSelectElement>("audit-target-type");
    const chosenTarget = target.value;
    target.replaceChildren(option("", t("common.all")), ...targetTypes.map((type) => option(type, tCode("target", type))));
    target.value = chosenTarget;
    this.render();
  }

  async load(): Promise<void> {
    try {
      const from = element<HTMLInputElement>("audit-from").value;
      const to = element<HTMLInputElement>("audit-to").value;
      const page = await withBusy(() =>
        getJson<Page<AuditEntry>>(
          withQuery("/api/audit", {
            action: element<HTMLSelectElement>("audit-action").value,
            actor: element<HTMLInputElement>("audit-actor").value.trim(),
            targetType: element<HTMLSelectElement>("audit-target-type").value,
            targetId: element<HTMLInputElement>("audit-target-id").value.trim(),
            // datetime-local values carry no offset, which the API reads as Asia/Shanghai: as the page shows times.
            from,
            to,
            page: this.pager.page,
            pageSize,
          }),
        ),
      );
      this.entries = page.items;
      this.pager.show(page.total);
      element("audit-table").dataset.total = String(page.total);
      this.render();
    } catch (error) {
      showError(error);
    }
  }

  private render(): void {
    const body = element("audit-table").querySelector("tbody")!;
    if (this.entries.length === 0) {
      const cell = make("td", t("admin.audit.empty"), "muted");
      cell.colSpan = 7;
      const row = make("tr");
      row.append(cell);
      body.replaceChildren(row);
      return;
    }
    body.replaceChildren(
      ...this.entries.map((entry) => {
        const row = make("tr");
        row.dataset.action = entry.action;
        const target = entry.targetType ? `${tCode("target", entry.targetType)} ${entry.targetId ?? ""}`.trim() : t("common.none");
        row.append(
          make("td", formatDateTime(Date.parse(entry.at))),
          make("td", tCode("audit", entry.action)),
          make("td", entry.actorName ?? t("common.none")),
          make("td", entry.actorRole ? tCode("role", entry.actorRole) : t("common.none")),
          make("td", target),
          make("td", Object.keys(entry.details).length > 0 ? JSON.stringify(entry.details) : "", "details"),
          make("td", entry.clientIp ?? t("common.none")),
        );
        return row;
      }),
    );
  }
}

function showTab(name: string): void {
  for (const tab of document.querySelectorAll<HTMLButtonElement>("[data-tab]")) {
    const selected = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", String(selected));
    element(`page-${tab.dataset.tab}`).hidden = !selected;
  }
  document.body.dataset.tab = name;
}

async function boot(): Promise<void> {
  setLocale(storedLocale() ?? "zh-CN", false);
  const languages = element<HTMLSelectElement>("language");
  languages.value = locale();
  languages.addEventListener("change", () => setLocale(parseLocale(languages.value) ?? "zh-CN", true));
  onLocaleChange(() => (languages.value = locale()));
  element("logout").addEventListener("click", () => {
    void write("POST", "/api/auth/logout", {})
      .catch(showError)
      .finally(() => window.location.assign("/"));
  });

  let user: CurrentUser;
  try {
    user = await withBusy(() => getJson<CurrentUser>("/api/auth/me", { quiet401: true }));
  } catch (error) {
    element("signed-out").hidden = false;
    if (!(error instanceof ApiError && error.status === 401)) {
      showError(error);
    }
    return;
  }
  if (user.role !== "admin" && user.role !== "supervisor") {
    element("signed-out-message").dataset.i18n = "admin.notAllowed";
    applyTo(element("signed-out"));
    element("signed-out").hidden = false;
    return;
  }

  const preferred = storedLocale() ?? parseLocale(user.locale) ?? "zh-CN";
  if (preferred !== locale()) {
    setLocale(preferred, false);
  }
  element("user-name").textContent = user.displayName || user.username;
  element("admin").hidden = false;
  const isAdmin = user.role === "admin";
  element("tab-users").hidden = !isAdmin;
  element("tab-tokens").hidden = !isAdmin;
  for (const tab of document.querySelectorAll<HTMLButtonElement>("[data-tab]")) {
    tab.addEventListener("click", () => showTab(tab.dataset.tab ?? "audit"));
  }

  const audit = new AuditPage();
  onLocaleChange(() => audit.renderChoices());
  if (isAdmin) {
    const users = new UsersPage();
    const tokens = new TokensPage();
    onLocaleChange(() => {
      users.renderChoices();
      tokens.renderChoices();
    });
    showTab("users");
    const departments = await getJson<Department[]>("/api/registry/departments").catch((error: unknown) => {
      showError(error);
      return [] as Department[];
    });
    await Promise.all([users.start(departments), tokens.start(departments), audit.start()]).catch(showError);
  } else {
    showTab("audit");
    await audit.start().catch(showError);
  }
  document.body.dataset.ready = "true";
}

window.addEventListener("error", (event) => showError(event.error ?? event.message));
window.addEventListener("unhandledrejection", (event) => showError(event.reason));
applyTo(document);
void boot();
