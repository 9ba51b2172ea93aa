using System.Globalization;
using Fleet.Web.Api;
using Fleet.Web.Auth;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace Fleet.Web.Vehicles;

/// <summary>
/// <c>GET /api/vehicles</c>, <c>GET /api/vehicles/{id}</c>, <c>GET /api/vehicles/{id}/track</c>: the registry joined
/// with the live state, within the caller's <see cref="UserScope"/>. A vehicle outside the scope answers 404, exactly
/// like one that does not exist, so ids cannot be probed.
/// </summary>
public static class VehiclesApi
{
    public const int MaxTrackPoints = 20_000;
    public static readonly TimeSpan MaxTrackRange = TimeSpan.FromDays(7);

    private const string ListColumns =
        "v.id, v.plate, v.vin, v.category, d.id, d.name, z.id, z.name, v.energy, v.seats, v.marked, v.status, t.id";

    private const string Joins =
        """
        FROM vehicles v
        JOIN departments d ON d.id = v.department_id
        LEFT JOIN office_zones z ON z.id = v.office_zone_id
        LEFT JOIN terminals t ON t.vehicle_id = v.id
        """;

    /// <summary>Registers the empty live-state reader unless the host (or a test) registered a real one first.</summary>
    public static IServiceCollection AddFleetVehicles(this IServiceCollection services)
    {
        services.TryAddSingleton<ILiveStateReader, EmptyLiveStateReader>();
        return services;
    }

    public static IEndpointRouteBuilder MapVehiclesApi(this IEndpointRouteBuilder endpoints)
    {
        var vehicles = endpoints.MapGroup("/api/vehicles").RequireAuthorization(FleetPolicies.Registry);
        vehicles.MapGet("/", ListAsync);
        vehicles.MapGet("/{id:long}", GetAsync);
        vehicles.MapGet("/{id:long}/track", TrackAsync);
        return endpoints;
    }

    private static async Task<IResult> ListAsync(
        HttpContext http,
        NpgsqlDataSource db,
        ILiveStateReader live,
        string? plate,
        string? departmentId,
        string? zoneId,
        string? state,
        string? page,
        string? pageSize,
        CancellationToken ct)
    {
        var errors = new FieldErrors();
        var plateText = errors.Text("plate", plate, 64);
        var department = errors.OptionalId("departmentId", departmentId);
        var zone = errors.OptionalId("zoneId", zoneId);
        var paging = errors.Paging(page, pageSize);
        LiveState? liveState = null;
        var stateFilter = !string.IsNullOrEmpty(state);
        if (stateFilter && !LiveStateNames.TryParse(state!, out liveState))
        {
            errors.Add("state", "Must be one of moving, stopped, parked, offline, unknown.");
        }

        if (errors.HasErrors)
        {
            return Problems.Validation(errors.Errors);
        }

        var filter = new SqlFilter();
        UserScope.Of(http).Apply(filter, "v.department_id");
        if (plateText is not null)
        {
            // strpos, not LIKE: the input is matched literally, so '%' and '_' need no escaping.
            filter.Add($"strpos(lower(v.plate), lower({filter.Bind(plateText)})) > 0");
        }

        if (department is { } d)
        {
            filter.Add($"v.department_id = {filter.Bind(d)}");
        }

        if (zone is { } z)
        {
            filter.Add($"v.office_zone_id = {filter.Bind(z)}");
        }

        if (stateFilter)
        {
            // The live state is in memory, not in PostgreSQL: the matching ids go in as one array parameter.
            var known = live.All;
            if (liveState is { } wanted)
            {
                filter.Add($"v.id = ANY({filter.Bind(known.Where(l => l.EffectiveState == wanted).Select(l => l.VehicleId).ToArray())})");
            }
            else
            {
                filter.Add($"NOT (v.id = ANY({filter.Bind(known.Select(l => l.VehicleId).ToArray())}))");
            }
        }

        await using var connection = await db.OpenConnectionAsync(ct);
        var total = await filter.CountAsync(connection, "vehicles v", ct);

        var items = new List<VehicleItem>(paging.PageSize);
        await using (var select = filter.PageCommand(connection, $"SELECT {ListColumns} {Joins}", "v.id", paging))
        {
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var id = reader.GetInt64(0);
                items.Add(new VehicleItem(
                    id,
                    reader.GetString(1),
                    reader.GetString(2),
                    reader.GetString(3),
                    new NamedRef(reader.GetInt32(4), reader.GetString(5)),
                    reader.IsDBNull(6) ? null : new NamedRef(reader.GetInt32(6), reader.GetString(7)),
                    reader.GetString(8),
                    reader.GetInt16(9),
                    reader.GetBoolean(10),
                    reader.GetString(11),
                    reader.IsDBNull(12) ? null : reader.GetString(12),
                    live.TryGet(id, out var current) ? LiveView.From(current) : null));
            }
        }

        return TypedResults.Ok(new PagedResult<VehicleItem>(items, paging.Page, paging.PageSize, total));
    }

    private static async Task<IResult> GetAsync(long id, HttpContext http, NpgsqlDataSource db, ILiveStateReader live, CancellationToken ct)
    {
        var filter = new SqlFilter();
        filter.Add($"v.id = {filter.Bind(id)}");
        UserScope.Of(http).Apply(filter, "v.department_id");
        await using var command = db.CreateCommand(
            $"SELECT {ListColumns}, v.ownership, v.model, v.on_quota, t.enabled {Joins}{filter.Where}");
        filter.AddParametersTo(command);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return VehicleNotFound(id);
        }

        return TypedResults.Ok(new VehicleDetail(
            reader.GetInt64(0),
            reader.GetString(1),
            reader.GetString(2),
            reader.GetString(3),
            reader.GetString(13),
            new NamedRef(reader.GetInt32(4), reader.GetString(5)),
            reader.IsDBNull(6) ? null : new NamedRef(reader.GetInt32(6), reader.GetString(7)),
            reader.IsDBNull(14) ? null : reader.GetString(14),
            reader.GetString(8),
            reader.GetInt16(9),
            reader.GetBoolean(10),
            reader.GetBoolean(15),
            reader.GetString(11),
            reader.IsDBNull(12) ? null : reader.GetString(12),
            reader.IsDBNull(16) ? null : reader.GetBoolean(16),
            live.TryGet(id, out var state) ? LiveView.From(state) : null,
            Driver: null));
    }

    private static async Task<IResult> TrackAsync(
        long id,
        HttpContext http,
        NpgsqlDataSource db,
        TimeProvider timeProvider,
        string? from,
        string? to,
        CancellationToken ct)
    {
        var errors = new FieldErrors();
        var fromTime = errors.Time("from", from);
        var toTime = errors.Time("to", to);
        if (errors.HasErrors)
        {
            return Problems.Validation(errors.Errors);
        }

        // Defaults: today in Asia/Shanghai; a single bound means the 24 hours after (or before) it.
        var start = fromTime ?? (toTime is { } t0 ? t0.AddDays(-1) : ShanghaiTime.StartOfDay(timeProvider.GetUtcNow()));
        var end = toTime ?? start.AddDays(1);
        if (end < start)
        {
            return Problems.Validation("to", "Must not be before from.");
        }

        if (end - start > MaxTrackRange)
        {
            return Problems.Validation("to", string.Create(CultureInfo.InvariantCulture, $"The range may span at most {MaxTrackRange.TotalDays} days; ask for several ranges."));
        }

        var filter = new SqlFilter();
        filter.Add($"v.id = {filter.Bind(id)}");
        UserScope.Of(http).Apply(filter, "v.department_id");
        await using var connection = await db.OpenConnectionAsync(ct);
        string plate;
        await using (var vehicle = new NpgsqlCommand($"SELECT v.plate FROM vehicles v{filter.Where}", connection))
        {
            filter.AddParametersTo(vehicle);
            if (await vehicle.ExecuteScalarAsync(ct) is not string found)
            {
                return VehicleNotFound(id);
            }

            plate = found;
        }

        var ts = new List<long>();
        var coordinates = new List<double[]>();
        var spd = new List<float?>();
        var hdg = new List<short?>();
        var acc = new List<bool?>();
        var odo = new List<double?>();
        await using (var positions = new NpgsqlCommand(
            "SELECT ts, lon, lat, spd, hdg, acc, odo FROM positions WHERE vehicle_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts, seq LIMIT $4",
            connection))
        {
            positions.Parameters.Add(new NpgsqlParameter { Value = id });
            positions.Parameters.Add(new NpgsqlParameter { Value = start.ToUniversalTime() });
            positions.Parameters.Add(new NpgsqlParameter { Value = end.ToUniversalTime() });
            // One more than the cap, to know whether anything was left out.
            positions.Parameters.Add(new NpgsqlParameter { Value = MaxTrackPoints + 1 });
            await using var reader = await positions.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                ts.Add(reader.GetFieldValue<DateTimeOffset>(0).ToUnixTimeMilliseconds());
                coordinates.Add([reader.GetDouble(1), reader.GetDouble(2)]);
                spd.Add(reader.IsDBNull(3) ? null : reader.GetFloat(3));
                hdg.Add(reader.IsDBNull(4) ? null : reader.GetInt16(4));
                acc.Add(reader.IsDBNull(5) ? null : reader.GetBoolean(5));
                odo.Add(reader.IsDBNull(6) ? null : reader.GetDouble(6));
            }
        }

        var truncated = ts.Count > MaxTrackPoints;
        var count = Math.Min(ts.Count, MaxTrackPoints);
        var features = new List<TrackFeature>(1);
        if (count > 0)
        {
            // GeoJSON: a LineString needs at least two positions, so a lone fix is a Point.
            var geometry = count == 1
                ? new TrackGeometry("Point", coordinates[0])
                : new TrackGeometry("LineString", coordinates.Take(count).ToArray());
            features.Add(new TrackFeature("Feature", geometry, new TrackProperties(
                id,
                [.. ts.Take(count)],
                [.. spd.Take(count)],
                [.. hdg.Take(count)],
                [.. acc.Take(count)],
                [.. odo.Take(count)])));
        }

        return TypedResults.Ok(new TrackGeoJson(
            "FeatureCollection",
            features,
            id,
            plate,
            TimeZoneInfo.ConvertTime(start, ShanghaiTime.Zone),
            TimeZoneInfo.ConvertTime(end, ShanghaiTime.Zone),
            count,
            truncated,
            MaxTrackPoints));
    }

    private static IResult VehicleNotFound(long id) =>
        Problems.NotFound(string.Create(CultureInfo.InvariantCulture, $"No vehicle {id} that you may see."));
}
