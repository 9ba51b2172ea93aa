using Fleet.Web.Auth;

namespace Fleet.Web.Tests.Security;

/// <summary>
/// Who asks, one column of the matrix each: a demo user per role in <see cref="FleetRoles.All"/> order, then
/// <see cref="Cross"/> (a user of department A, police, asking for department B's data, finance), then anonymous.
/// Every sample in <see cref="AccessMatrix.Samples"/> is department B's, so the six role columns show what each role
/// may do with data it may see (the department-bound demo users are all finance's), and the cross column shows that
/// another department's data is out of reach.
/// </summary>
public sealed record Caller(string Column, string? Username)
{
    public static readonly Caller Cross = new("cross-department", "manager2");

    public static readonly Caller Anonymous = new("anonymous", null);

    public static readonly IReadOnlyList<Caller> Columns =
    [
        new(FleetRoles.Admin, "admin"),
        new(FleetRoles.Dispatcher, "dispatcher"),
        new(FleetRoles.DepartmentManager, "manager1"),
        new(FleetRoles.Supervisor, "supervisor"),
        new(FleetRoles.Driver, "driver1"),
        new(FleetRoles.Requester, "requester1"),
        Cross,
        Anonymous,
    ];

    public override string ToString() => Username is null ? Column : $"{Column} ({Username})";
}

/// <summary>A row: one endpoint or hub method, and the status each <see cref="Caller.Columns"/> caller must get.</summary>
public abstract record AccessRow(string Expected)
{
    /// <summary>The expected statuses, one per column.</summary>
    public IReadOnlyList<int> Statuses { get; } = Expected.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();

    /// <summary>The key the coverage test matches against the app: "GET /api/vehicles/{id}" or "hub /hubs/live Subscribe".</summary>
    public abstract string Key { get; }

    public override string ToString() => Key;
}

/// <param name="Method">HTTP method as the endpoint declares it.</param>
/// <param name="Route">The route template as mapped (constraints and a trailing slash may be left out).</param>
/// <param name="Path">The concrete request: path and query, with <c>{sample}</c> names from <see cref="AccessMatrix.Samples"/>.
/// Null: the route itself (only for routes without parameters).</param>
/// <param name="Body">JSON body, with <c>{sample}</c> names; null: none.</param>
/// <param name="OwnSession">Each caller signs in afresh for this row (the row ends or changes the session).</param>
public sealed record RestRow(string Method, string Route, string Expected, string? Path = null, string? Body = null, bool OwnSession = false)
    : AccessRow(Expected)
{
    public override string Key => $"{Method} {AccessMatrix.Normalize(Route)}";
}

/// <param name="HubPath">Where the hub is mapped.</param>
/// <param name="Method">The hub method a client invokes.</param>
/// <param name="Arguments">The invocation's arguments as a JSON array, with <c>{sample}</c> names.</param>
public sealed record HubRow(string HubPath, string Method, string Arguments, string Expected) : AccessRow(Expected)
{
    public override string Key => $"hub {HubPath} {Method}";
}

/// <summary>
/// The authorisation matrix as data. Every endpoint of the app and every public hub method needs a row, or
/// <see cref="AccessMatrixTests"/>' coverage test fails: a new endpoint arrives with its row. Columns, in order:
/// admin dispatcher department_manager supervisor driver requester cross-department anonymous.
/// Statuses: 200/201/204 allowed; 400 reached the handler with a bad body; 401 no session; 403 role refused
/// (or, for a hub method, a "forbidden" HubException); 404 not found, which is also what another department's data
/// answers (ids cannot be probed).
/// </summary>
public static class AccessMatrix
{
    /// <summary>
    /// Named sample values for paths and bodies, each a query over the seeded demo province, run once per fixture
    /// (ExecuteScalar, so an <c>INSERT … RETURNING id</c> makes a throwaway row for a row that changes or deletes it).
    /// Department B is finance (manager1, driver1 and requester1's); the cross column's manager2 is police.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> Samples = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["departmentB"] = "SELECT department_id FROM users WHERE username = 'manager1'",
        ["vehicleB"] = "SELECT min(id) FROM vehicles WHERE department_id = (SELECT department_id FROM users WHERE username = 'manager1')",
        ["terminalB"] = "SELECT min(t.id) FROM terminals t JOIN vehicles v ON v.id = t.vehicle_id WHERE v.department_id = (SELECT department_id FROM users WHERE username = 'manager1')",
        // Throwaway rows for the administration rows that change or revoke them (no column's own user is touched).
        ["spareUser"] = """
            INSERT INTO users (username, display_name, password_hash, role, department_id, region_id)
            SELECT 'matrix-spare', 'Matrix spare', password_hash, role, department_id, region_id FROM users WHERE username = 'driver1'
            RETURNING id
            """,
        ["spareToken"] = """
            INSERT INTO api_tokens (name, token_hash, token_prefix, role, expires_at)
            VALUES ('matrix-spare', sha256('matrix-spare'::bytea), 'mtrx', 'supervisor', now() + interval '1 day')
            RETURNING id
            """,
    };

    /// <summary>
    /// Adding an endpoint: one line here (and, for a route with an id, a sample in <see cref="Samples"/>; for a
    /// parameter, its kind in BadInputTests.Kinds; for a JSON body, BadInputTests.TakesJsonBody). A row that ends or
    /// changes the caller's own session sets <c>ownSession: true</c>; one that changes another user should target a
    /// throwaway sample user, not a column's, or the later rows of that column lose their session.
    /// </summary>
    public static readonly IReadOnlyList<AccessRow> Rows =
    [
        //                                                               adm dis mgr sup drv req xdp anon
        Rest("GET", "/health", "200 200 200 200 200 200 200 200"),
        // Loopback (the test client) may scrape without a session.
        Rest("GET", "/metrics", "200 200 200 200 200 200 200 200"),
        // Open to all; the empty body shows the handler was reached.
        Rest("POST", "/api/auth/login", "400 400 400 400 400 400 400 400", body: "{}"),
        Rest("POST", "/api/auth/logout", "204 204 204 204 204 204 204 204", ownSession: true),
        Rest("GET", "/api/auth/me", "200 200 200 200 200 200 200 401"),
        Rest("GET", "/api/vehicles", "200 200 200 200 200 200 200 401"),
        Rest("GET", "/api/vehicles/{id}", "200 200 200 200 200 200 404 401", "/api/vehicles/{vehicleB}"),
        Rest("GET", "/api/vehicles/{id}/track", "200 200 200 200 200 200 404 401", "/api/vehicles/{vehicleB}/track"),
        Rest("GET", "/api/stats/live", "200 200 200 200 200 200 200 401"),
        Rest("GET", "/api/telemetry/rejects", "200 403 403 200 403 403 403 401"),
        Rest("GET", "/api/registry/departments", "200 200 200 200 200 200 200 401"),
        Rest("GET", "/api/registry/zones", "200 200 200 200 200 200 200 401"),
        Rest("GET", "/api/map/config", "200 200 200 200 200 200 200 401"),
        Rest("GET", "/api/map/layers", "200 200 200 200 200 200 200 401"),
        Rest("GET", "/api/map/roads", "200 200 200 200 200 200 200 401"),
        Rest("GET", "/api/terminals", "200 403 403 403 403 403 403 401"),
        Rest("GET", "/api/terminals/{id}", "200 403 403 403 403 403 403 401", "/api/terminals/{terminalB}"),
        Rest("POST", "/api/terminals", "201 403 403 403 403 403 403 401", body: """{"id":"matrix-new"}"""),
        Rest("PATCH", "/api/terminals/{id}", "200 403 403 403 403 403 403 401", "/api/terminals/{terminalB}", """{"enabled":true}"""),
        Rest("POST", "/api/terminals/{id}/credential", "200 403 403 403 403 403 403 401", "/api/terminals/{terminalB}/credential"),
        Rest("GET", "/api/audit", "200 403 403 200 403 403 403 401"),
        Rest("GET", "/api/audit/actions", "200 403 403 200 403 403 403 401"),
        Rest("GET", "/api/admin/users", "200 403 403 403 403 403 403 401"),
        Rest("GET", "/api/admin/users/{id}", "200 403 403 403 403 403 403 401", "/api/admin/users/{spareUser}"),
        Rest("POST", "/api/admin/users", "201 403 403 403 403 403 403 401",
            body: """{"username":"matrix-new","displayName":"Matrix","role":"supervisor","password":"Matrix2026pass"}"""),
        Rest("PATCH", "/api/admin/users/{id}", "200 403 403 403 403 403 403 401", "/api/admin/users/{spareUser}", """{"displayName":"矩阵"}"""),
        Rest("POST", "/api/admin/users/{id}/password", "204 403 403 403 403 403 403 401", "/api/admin/users/{spareUser}/password",
            """{"password":"Matrix2026pass"}"""),
        Rest("GET", "/api/admin/tokens", "200 403 403 403 403 403 403 401"),
        Rest("POST", "/api/admin/tokens", "201 403 403 403 403 403 403 401", body: """{"name":"matrix","role":"supervisor","expiresInDays":30}"""),
        Rest("DELETE", "/api/admin/tokens/{id}", "204 403 403 403 403 403 403 401", "/api/admin/tokens/{spareToken}"),
        Rest("POST", "/hubs/live/negotiate", "200 200 200 200 200 200 200 401", "/hubs/live/negotiate?negotiateVersion=1"),
        Hub("/hubs/live", "Subscribe", """[{"kind":"department","id":{departmentB}}]""", "200 200 200 200 200 200 403 401"),
        Hub("/hubs/live", "Unsubscribe", "[]", "200 200 200 200 200 200 200 401"),
    ];

    /// <summary>A REST row: method, route as mapped, one status per column; a sample path for routes with parameters.</summary>
    public static RestRow Rest(string method, string route, string expected, string? path = null, string? body = null, bool ownSession = false) =>
        new(method, route, expected, path, body, ownSession);

    /// <summary>A hub method row: the arguments are a JSON array.</summary>
    public static HubRow Hub(string hubPath, string method, string arguments, string expected) => new(hubPath, method, arguments, expected);

    /// <summary>"/api/vehicles/{id:long}/" → "/api/vehicles/{id}": constraints and trailing slashes do not matter to a row.</summary>
    public static string Normalize(string route)
    {
        var text = System.Text.RegularExpressions.Regex.Replace(route, @"\{([^}:=?]+)[^}]*\}", "{$1}");
        return text.Length > 1 ? text.TrimEnd('/') : text;
    }
}
