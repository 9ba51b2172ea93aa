namespace Fleet.Web.Audit;

/// <summary>
/// The action names of <c>audit_log.action</c>: "subject.what_happened", lower case. Stored as text, so a name here must
/// never be renamed once entries carry it; add a new one instead.
/// </summary>
public static class AuditActions
{
    // Sign-in (AuthApi).
    public const string LoginSucceeded = "auth.login_succeeded";
    public const string LoginFailed = "auth.login_failed";
    public const string LockedOut = "auth.locked_out";
    public const string Logout = "auth.logout";

    // Users (UsersAdminApi).
    public const string UserCreated = "user.created";
    public const string UserRoleChanged = "user.role_changed";
    public const string UserDepartmentChanged = "user.department_changed";
    public const string UserRenamed = "user.renamed";
    public const string UserDisabled = "user.disabled";
    public const string UserEnabled = "user.enabled";
    public const string UserPasswordReset = "user.password_reset";

    // API tokens (ApiTokensApi).
    public const string ApiTokenCreated = "api_token.created";
    public const string ApiTokenRevoked = "api_token.revoked";

    // Terminals (TerminalsApi).
    public const string TerminalCreated = "terminal.created";
    public const string TerminalDisabled = "terminal.disabled";
    public const string TerminalEnabled = "terminal.enabled";
    public const string TerminalRebound = "terminal.rebound";
    public const string TerminalCredentialRotated = "terminal.credential_rotated";

    // Defined for features still to come (holiday sealing, orders, violations, geofences, the holiday calendar), so
    // they record under these names when they land. Nothing writes them yet.
    public const string VehicleSealed = "vehicle.sealed";
    public const string VehicleUnsealed = "vehicle.unsealed";
    public const string OrderApproved = "order.approved";
    public const string OrderRejected = "order.rejected";
    public const string OrderAssigned = "order.assigned";
    public const string OrderCancelled = "order.cancelled";
    public const string ViolationAcknowledged = "violation.acknowledged";
    public const string ViolationResolved = "violation.resolved";
    public const string GeofenceCreated = "geofence.created";
    public const string GeofenceChanged = "geofence.changed";
    public const string GeofenceDeleted = "geofence.deleted";
    public const string CalendarChanged = "calendar.changed";

    /// <summary>Every action, in the order above: what the audit filter accepts and <c>GET /api/audit/actions</c> lists.</summary>
    public static readonly IReadOnlyList<string> All =
    [
        LoginSucceeded, LoginFailed, LockedOut, Logout,
        UserCreated, UserRoleChanged, UserDepartmentChanged, UserRenamed, UserDisabled, UserEnabled, UserPasswordReset,
        ApiTokenCreated, ApiTokenRevoked,
        TerminalCreated, TerminalDisabled, TerminalEnabled, TerminalRebound, TerminalCredentialRotated,
        VehicleSealed, VehicleUnsealed,
        OrderApproved, OrderRejected, OrderAssigned, OrderCancelled,
        ViolationAcknowledged, ViolationResolved,
        GeofenceCreated, GeofenceChanged, GeofenceDeleted,
        CalendarChanged,
    ];

    /// <summary>The actions something in the platform records today (the rest wait for their features).</summary>
    public static readonly IReadOnlySet<string> Recorded = new HashSet<string>(StringComparer.Ordinal)
    {
        LoginSucceeded, LoginFailed, LockedOut, Logout,
        UserCreated, UserRoleChanged, UserDepartmentChanged, UserRenamed, UserDisabled, UserEnabled, UserPasswordReset,
        ApiTokenCreated, ApiTokenRevoked,
        TerminalCreated, TerminalDisabled, TerminalEnabled, TerminalRebound, TerminalCredentialRotated,
    };
}

/// <summary>The <c>audit_log.target_type</c> values.</summary>
public static class AuditTargets
{
    public const string User = "user";
    public const string ApiToken = "api_token";
    public const string Terminal = "terminal";
    public const string Vehicle = "vehicle";
    public const string Order = "order";
    public const string Violation = "violation";
    public const string Geofence = "geofence";
    public const string Calendar = "calendar";

    public static readonly IReadOnlyList<string> All = [User, ApiToken, Terminal, Vehicle, Order, Violation, Geofence, Calendar];
}
