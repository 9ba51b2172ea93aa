using System.Text;
using Fleet.Web.Api;
using Fleet.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Web.Map;

/// <summary>What the page needs to set up its basemap; <see cref="TileUrl"/> null means "no tiles: draw our layers only".</summary>
public sealed record MapConfig(
    string? TileUrl,
    string? Attribution,
    string? Subdomains,
    int MaxZoom,
    double CenterLat,
    double CenterLon,
    int Zoom);

/// <summary>
/// <c>GET /api/map/config</c> (the basemap from <see cref="MapOptions"/>) and <c>GET /api/map/layers</c> (Fleet's own
/// geography as one GeoJSON FeatureCollection, straight from PostGIS). Each feature's <c>properties.layer</c> says
/// what it is: <c>region</c> (a Point at the region's seat, with its name and level), <c>zone</c> (an office zone's
/// boundary) or <c>lot</c> (a department's designated parking). Region and zone names are no secret; lots are the
/// departments' and follow <see cref="UserScope"/>: a department-bound user gets their own department's lot only.
/// <c>GET /api/map/roads</c> is the simulator's road network per 盟市 (<see cref="RoadLayer"/>), the same for everyone.
/// </summary>
public static class MapApi
{
    public const string GeoJsonMediaType = "application/geo+json";

    public static IServiceCollection AddFleetMap(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MapOptions>().Bind(configuration.GetSection(MapOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MapOptions>, MapOptionsValidator>());
        services.TryAddSingleton<RoadLayer>();
        return services;
    }

    public static IEndpointRouteBuilder MapMapApi(this IEndpointRouteBuilder endpoints)
    {
        var map = endpoints.MapGroup("/api/map").RequireAuthorization(FleetPolicies.Registry);
        map.MapGet("/config", Config);
        map.MapGet("/layers", LayersAsync);
        map.MapGet("/roads", RoadsAsync);
        return endpoints;
    }

    private static Ok<MapConfig> Config(IOptionsSnapshot<MapOptions> options)
    {
        var o = options.Value;
        var tileUrl = string.IsNullOrWhiteSpace(o.TileUrl) ? null : o.TileUrl.Trim();
        return TypedResults.Ok(new MapConfig(
            tileUrl,
            tileUrl is null || string.IsNullOrWhiteSpace(o.Attribution) ? null : o.Attribution.Trim(),
            tileUrl is null || string.IsNullOrWhiteSpace(o.Subdomains) ? null : o.Subdomains.Trim(),
            o.MaxZoom,
            o.CenterLat,
            o.CenterLon,
            o.Zoom));
    }

    private static async Task<IResult> RoadsAsync(RoadLayer roads, CancellationToken ct) =>
        TypedResults.Bytes(await roads.GetAsync(ct), GeoJsonMediaType + "; charset=utf-8");

    private static async Task<IResult> LayersAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var lots = new SqlFilter();
        lots.Add("d.parking_lot IS NOT NULL");
        UserScope.Of(http).Apply(lots, "d.id");

        // Six decimals (~0.1 m) keep the document small; PostGIS builds it, so no geometry is parsed here.
        await using var command = db.CreateCommand(
            $"""
            SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(f.feature ORDER BY f.sort, f.id), '[]'::json))::text
            FROM (
                SELECT 0 AS sort, r.id, json_build_object(
                    'type', 'Feature',
                    'geometry', ST_AsGeoJSON(r.centre, 6)::json,
                    'properties', json_build_object('layer', 'region', 'id', r.id, 'name', r.name, 'level', r.level, 'code', r.code)) AS feature
                FROM regions r
                WHERE r.centre IS NOT NULL
                UNION ALL
                SELECT 1, z.id, json_build_object(
                    'type', 'Feature',
                    'geometry', ST_AsGeoJSON(z.boundary, 6)::json,
                    'properties', json_build_object('layer', 'zone', 'id', z.id, 'name', z.name, 'regionId', z.region_id))
                FROM office_zones z
                WHERE z.boundary IS NOT NULL
                UNION ALL
                SELECT 2, d.id, json_build_object(
                    'type', 'Feature',
                    'geometry', ST_AsGeoJSON(d.parking_lot, 6)::json,
                    'properties', json_build_object('layer', 'lot', 'id', d.id, 'departmentId', d.id, 'name', d.name, 'zoneId', d.office_zone_id))
                FROM departments d{lots.Where}
            ) f
            """);
        lots.AddParametersTo(command);
        var json = (string)(await command.ExecuteScalarAsync(ct))!;
        return TypedResults.Text(json, GeoJsonMediaType, Encoding.UTF8);
    }
}
