using Fleet.Web.Api;
using Fleet.Web.Auth;
using Npgsql;

namespace Fleet.Web.Registry;

/// <summary>A department as the map's filter lists it.</summary>
public sealed record DepartmentItem(int Id, string Name, int RegionId, string RegionName, int? ZoneId);

/// <summary>An office zone (相对集中办公区) as the map's filter lists it.</summary>
public sealed record ZoneItem(int Id, string Name, int RegionId, string RegionName);

/// <summary>
/// <c>GET /api/registry/departments</c> and <c>GET /api/registry/zones</c>: the lists behind the map's filters, within
/// the caller's <see cref="UserScope"/>. A department-bound user gets their own department, and the office zone it
/// belongs to (if any); everyone else gets all of them. Ordered by region code, then name.
/// </summary>
public static class RegistryApi
{
    public static IEndpointRouteBuilder MapRegistryApi(this IEndpointRouteBuilder endpoints)
    {
        var registry = endpoints.MapGroup("/api/registry").RequireAuthorization(FleetPolicies.Registry);
        registry.MapGet("/departments", DepartmentsAsync);
        registry.MapGet("/zones", ZonesAsync);
        return endpoints;
    }

    private static async Task<IResult> DepartmentsAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var filter = new SqlFilter();
        UserScope.Of(http).Apply(filter, "d.id");
        await using var command = db.CreateCommand(
            $"SELECT d.id, d.name, r.id, r.name, d.office_zone_id FROM departments d JOIN regions r ON r.id = d.region_id{filter.Where} ORDER BY r.code, d.name");
        filter.AddParametersTo(command);
        var items = new List<DepartmentItem>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            items.Add(new DepartmentItem(reader.GetInt32(0), reader.GetString(1), reader.GetInt32(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetInt32(4)));
        }

        return TypedResults.Ok(items);
    }

    private static async Task<IResult> ZonesAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var user = UserScope.Of(http);
        var filter = new SqlFilter();
        var from = "office_zones z JOIN regions r ON r.id = z.region_id";
        if (!user.SeesAllDepartments)
        {
            // Only the zone of the user's own department (at most one row: d.id is bound to that department).
            from += " JOIN departments d ON d.office_zone_id = z.id";
            user.Apply(filter, "d.id");
        }

        await using var command = db.CreateCommand($"SELECT z.id, z.name, r.id, r.name FROM {from}{filter.Where} ORDER BY r.code, z.name");
        filter.AddParametersTo(command);
        var items = new List<ZoneItem>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            items.Add(new ZoneItem(reader.GetInt32(0), reader.GetString(1), reader.GetInt32(2), reader.GetString(3)));
        }

        return TypedResults.Ok(items);
    }
}
