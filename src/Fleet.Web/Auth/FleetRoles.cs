namespace Fleet.Web.Auth;

/// <summary>The role codes of the <c>users.role</c> column (migration 0002).</summary>
public static class FleetRoles
{
    public const string Admin = "admin";
    public const string Dispatcher = "dispatcher";
    public const string DepartmentManager = "department_manager";
    public const string Supervisor = "supervisor";
    public const string Driver = "driver";
    public const string Requester = "requester";

    public static readonly IReadOnlyList<string> All = [Admin, Dispatcher, DepartmentManager, Supervisor, Driver, Requester];
}

/// <summary>Authorization policy names; each endpoint names the one it needs.</summary>
public static class FleetPolicies
{
    /// <summary>Any signed-in role: the registry and live state, each user within their <see cref="UserScope"/>.</summary>
    public const string Registry = "registry";

    /// <summary>The gateway's record of refused reports: operations staff only.</summary>
    public const string TelemetryRejects = "telemetry-rejects";
}

/// <summary>Claim types Fleet adds to the session cookie besides name, name identifier and role.</summary>
public static class FleetClaims
{
    public const string DisplayName = "fleet:display_name";
    public const string DepartmentId = "fleet:department_id";
    public const string RegionId = "fleet:region_id";
    public const string Locale = "fleet:locale";
}
