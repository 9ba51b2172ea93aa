// Every string the page shows, in zh-CN (the default) and English. Static markup names its keys in data-i18n*
// attributes; code calls t(). Changing the locale re-applies the markup and tells the listeners to re-render.

export type Locale = "zh-CN" | "en";

const zh = {
  "app.title": "公务用车监管平台 · 实时地图",
  "app.brand": "公务用车实时监管",
  "common.loading": "加载中…",
  "common.close": "关闭",
  "common.none": "—",
  "common.all": "全部",
  "common.error": "出错了",
  "common.networkError": "网络错误，无法连接服务器",
  "common.retry": "重试",
  "login.title": "登录",
  "login.subtitle": "公务用车监管平台",
  "login.username": "用户名",
  "login.password": "密码",
  "login.submit": "登录",
  "login.failed": "登录失败",
  "header.logout": "退出",
  "header.language": "语言",
  "header.total": "车辆总数",
  "header.onMap": "地图上",
  "header.unknown": "无定位",
  "header.user": "当前用户",
  "filter.department": "单位",
  "filter.zone": "办公区",
  "filter.state": "状态",
  "filter.plate": "车牌号",
  "filter.search": "查询",
  "filter.platePlaceholder": "如 蒙A12345",
  "filter.noMatch": "未找到车牌包含“{plate}”的车辆",
  "filter.noPosition": "{plate} 暂无定位",
  "state.moving": "行驶",
  "state.stopped": "停车",
  "state.parked": "停放",
  "state.offline": "离线",
  "state.unknown": "未知",
  "legend.title": "图例",
  "live.hub": "实时",
  "live.connecting": "连接中",
  "live.reconnecting": "重连中",
  "live.rest": "轮询",
  "live.hubTitle": "实时推送已连接",
  "live.restTitle": "实时推送不可用，每 15 秒刷新一次",
  "live.lost": "实时推送中断，正在重连…",
  "live.back": "实时推送已恢复",
  "panel.title": "车辆信息",
  "panel.plate": "车牌号",
  "panel.department": "单位",
  "panel.zone": "办公区",
  "panel.category": "车辆类别",
  "panel.energy": "能源类型",
  "panel.driver": "驾驶员",
  "panel.speed": "速度",
  "panel.heading": "方向",
  "panel.acc": "点火",
  "panel.accOn": "开",
  "panel.accOff": "关",
  "panel.state": "状态",
  "panel.lastReport": "最后上报",
  "panel.status": "车辆状态",
  "panel.track": "今日轨迹",
  "panel.trackPoints": "{count} 个轨迹点",
  "panel.trackNone": "今日无轨迹",
  "panel.trackTruncated": "轨迹点过多，只显示前 {count} 个",
  "unit.kmh": "{value} km/h",
  "replay.title": "轨迹回放",
  "replay.from": "开始时间",
  "replay.to": "结束时间",
  "replay.load": "加载轨迹",
  "replay.play": "播放",
  "replay.pause": "暂停",
  "replay.speed": "倍速",
  "replay.position": "进度",
  "replay.empty": "该时段无轨迹",
  "layers.regions": "行政区划",
  "layers.zones": "相对集中办公区",
  "layers.lots": "指定停放点",
  "layers.roads": "道路",
  "layers.track": "轨迹",
  "layers.vehicles": "车辆",
  "map.noBasemap": "未配置底图（Fleet:Map:TileUrl）",
  "category.general": "一般公务用车",
  "category.confidential_comms": "机要通信用车",
  "category.emergency": "应急保障用车",
  "category.law_enforcement": "执法执勤用车",
  "category.special_technical": "特种专业技术用车",
  "category.leader": "领导干部用车",
  "category.directed_support": "定向化保障用车",
  "energy.gasoline": "汽油",
  "energy.diesel": "柴油",
  "energy.hybrid": "油电混合",
  "energy.bev": "纯电动",
  "energy.phev": "插电式混合动力",
  "energy.fcev": "燃料电池",
  "status.active": "在用",
  "status.maintenance": "维修中",
  "status.sealed": "封存",
  "status.disposed": "已处置",
};

export type MessageKey = keyof typeof zh;

const en: Record<MessageKey, string> = {
  "app.title": "Official vehicles · Live map",
  "app.brand": "Live vehicle map",
  "common.loading": "Loading…",
  "common.close": "Close",
  "common.none": "—",
  "common.all": "All",
  "common.error": "Something went wrong",
  "common.networkError": "Network error: the server cannot be reached",
  "common.retry": "Retry",
  "login.title": "Sign in",
  "login.subtitle": "Official vehicle supervision platform",
  "login.username": "Username",
  "login.password": "Password",
  "login.submit": "Sign in",
  "login.failed": "Sign-in failed",
  "header.logout": "Sign out",
  "header.language": "Language",
  "header.total": "Vehicles",
  "header.onMap": "On map",
  "header.unknown": "No position",
  "header.user": "Signed in as",
  "filter.department": "Department",
  "filter.zone": "Office zone",
  "filter.state": "State",
  "filter.plate": "Plate",
  "filter.search": "Search",
  "filter.platePlaceholder": "e.g. 蒙A12345",
  "filter.noMatch": "No vehicle whose plate contains “{plate}”",
  "filter.noPosition": "{plate} has no position yet",
  "state.moving": "Moving",
  "state.stopped": "Stopped",
  "state.parked": "Parked",
  "state.offline": "Offline",
  "state.unknown": "Unknown",
  "legend.title": "Legend",
  "live.hub": "Live",
  "live.connecting": "Connecting",
  "live.reconnecting": "Reconnecting",
  "live.rest": "Polling",
  "live.hubTitle": "Live updates connected",
  "live.restTitle": "Live updates unavailable; refreshing every 15 s",
  "live.lost": "Live updates interrupted; reconnecting…",
  "live.back": "Live updates restored",
  "panel.title": "Vehicle",
  "panel.plate": "Plate",
  "panel.department": "Department",
  "panel.zone": "Office zone",
  "panel.category": "Category",
  "panel.energy": "Energy",
  "panel.driver": "Driver",
  "panel.speed": "Speed",
  "panel.heading": "Heading",
  "panel.acc": "Ignition",
  "panel.accOn": "on",
  "panel.accOff": "off",
  "panel.state": "State",
  "panel.lastReport": "Last report",
  "panel.status": "Vehicle status",
  "panel.track": "Today's track",
  "panel.trackPoints": "{count} track points",
  "panel.trackNone": "No track today",
  "panel.trackTruncated": "Too many track points; showing the first {count}",
  "unit.kmh": "{value} km/h",
  "replay.title": "Track replay",
  "replay.from": "From",
  "replay.to": "To",
  "replay.load": "Load track",
  "replay.play": "Play",
  "replay.pause": "Pause",
  "replay.speed": "Speed",
  "replay.position": "Position",
  "replay.empty": "No track in this period",
  "layers.regions": "Regions",
  "layers.zones": "Office zones",
  "layers.lots": "Designated lots",
  "layers.roads": "Roads",
  "layers.track": "Track",
  "layers.vehicles": "Vehicles",
  "map.noBasemap": "No basemap configured (Fleet:Map:TileUrl)",
  "category.general": "General official vehicle",
  "category.confidential_comms": "Confidential communications",
  "category.emergency": "Emergency support",
  "category.law_enforcement": "Law enforcement",
  "category.special_technical": "Special technical",
  "category.leader": "Leadership vehicle",
  "category.directed_support": "Directed support",
  "energy.gasoline": "Gasoline",
  "energy.diesel": "Diesel",
  "energy.hybrid": "Hybrid",
  "energy.bev": "Battery electric",
  "energy.phev": "Plug-in hybrid",
  "energy.fcev": "Fuel cell",
  "status.active": "In service",
  "status.maintenance": "In maintenance",
  "status.sealed": "Sealed",
  "status.disposed": "Disposed",
};

const dictionaries: Record<Locale, Record<MessageKey, string>> = { "zh-CN": zh, en };
const storageKey = "fleet.locale";
const listeners = new Set<() => void>();
let current: Locale = "zh-CN";

export function locale(): Locale {
  return current;
}

/** The message for key in the current locale, with {name} placeholders filled from args. */
export function t(key: MessageKey, args?: Record<string, string | number>): string {
  const text = dictionaries[current][key] ?? zh[key] ?? key;
  return args ? text.replace(/\{(\w+)\}/g, (m, name: string) => (name in args ? String(args[name]) : m)) : text;
}

/** A translation of a code that comes from the API (category, energy, status), or the code itself if unknown. */
export function tCode(prefix: "category" | "energy" | "status" | "state", code: string | null | undefined): string {
  if (!code) {
    return t("common.none");
  }
  const key = `${prefix}.${code}`;
  return key in zh ? t(key as MessageKey) : code;
}

export function parseLocale(value: string | null | undefined): Locale | null {
  if (!value) {
    return null;
  }
  if (value === "en" || value.toLowerCase().startsWith("en-")) {
    return "en";
  }
  return value.toLowerCase().startsWith("zh") ? "zh-CN" : null;
}

/** The locale the user chose with the header switch on this browser, if any. */
export function storedLocale(): Locale | null {
  try {
    return parseLocale(localStorage.getItem(storageKey));
  } catch {
    return null;
  }
}

/** Switches the page's language; remember=true when the user chose it (kept in localStorage). */
export function setLocale(next: Locale, remember: boolean): void {
  if (remember) {
    try {
      localStorage.setItem(storageKey, next);
    } catch {
      // Private mode or storage disabled: the choice lasts for this page only.
    }
  }
  current = next;
  document.documentElement.lang = next;
  document.title = t("app.title");
  applyTo(document);
  for (const listener of listeners) {
    listener();
  }
}

export function onLocaleChange(listener: () => void): void {
  listeners.add(listener);
}

/** Fills data-i18n (text), data-i18n-placeholder, data-i18n-title and data-i18n-aria-label under root. */
export function applyTo(root: ParentNode): void {
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n as MessageKey);
  }
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n-placeholder]")) {
    el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder as MessageKey));
  }
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n-title]")) {
    el.title = t(el.dataset.i18nTitle as MessageKey);
  }
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n-aria-label]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel as MessageKey));
  }
}
