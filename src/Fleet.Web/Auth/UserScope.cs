using System.Globalization;
using System.Security.Claims;
using Fleet.Web.Api;

namespace Fleet.Web.Auth;

/// <summary>
/// Who is asking, and which departments' data they may see. This is the ONE place the scope rule lives:
/// admin, supervisor and dispatcher see every department; department_manager, driver and requester see only
/// their own. Every query that returns department data goes through <see cref="Apply"/>.
/// </summary>
public sealed record UserScope(int UserId, string Username, string Role, int? DepartmentId, int? RegionId)
{
    public bool SeesAllDepartments => Role is FleetRoles.Admin or FleetRoles.Supervisor or FleetRoles.Dispatcher;

    /// <summary>
    /// Restricts <paramref name="filter"/> to the departments this user may see, on the given department column.
    /// A department-bound role without a department sees nothing rather than everything (fail closed).
    /// </summary>
    public void Apply(SqlFilter filter, string departmentColumn)
    {
        if (SeesAllDepartments)
        {
            return;
        }

        filter.Add(DepartmentId is { } department ? $"{departmentColumn} = {filter.Bind(department)}" : "false");
    }

    /// <summary>Built from the session's claims; null when the principal is not a Fleet session.</summary>
    public static UserScope? FromPrincipal(ClaimsPrincipal principal)
    {
        if (principal.Identity?.IsAuthenticated != true
            || !int.TryParse(principal.FindFirstValue(ClaimTypes.NameIdentifier), NumberStyles.None, CultureInfo.InvariantCulture, out var userId)
            || principal.FindFirstValue(ClaimTypes.Role) is not { } role
            || !FleetRoles.All.Contains(role))
        {
            return null;
        }

        return new UserScope(
            userId,
            principal.FindFirstValue(ClaimTypes.Name) ?? "",
            role,
            OptionalInt(principal, FleetClaims.DepartmentId),
            OptionalInt(principal, FleetClaims.RegionId));
    }

    /// <summary>The scope of a request that passed an authorization policy (so it is a Fleet session).</summary>
    public static UserScope Of(HttpContext context) =>
        FromPrincipal(context.User) ?? throw new InvalidOperationException("The endpoint must require a Fleet authorization policy.");

    private static int? OptionalInt(ClaimsPrincipal principal, string type) =>
        int.TryParse(principal.FindFirstValue(type), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;
}
