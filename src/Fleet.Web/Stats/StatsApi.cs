using Fleet.Web.Api;
using Fleet.Web.Auth;
using Fleet.Web.Vehicles;
using Npgsql;

namespace Fleet.Web.Stats;

/// <summary>Vehicle counts by live state over the vehicles the caller may see; unknown = no live state yet.</summary>
public sealed record LiveStats(int Total, int Moving, int Stopped, int Parked, int Offline, int Unknown);

/// <summary><c>GET /api/stats/live</c>.</summary>
public static class StatsApi
{
    public static IEndpointRouteBuilder MapStatsApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGroup("/api/stats").RequireAuthorization(FleetPolicies.Registry)
            .MapGet("/live", LiveAsync);
        return endpoints;
    }

    private static async Task<IResult> LiveAsync(HttpContext http, NpgsqlDataSource db, ILiveStateReader live, CancellationToken ct)
    {
        // The registry decides which vehicles count (and which the caller may see); the live reader only labels them.
        var filter = new SqlFilter();
        UserScope.Of(http).Apply(filter, "v.department_id");
        await using var command = db.CreateCommand($"SELECT v.id FROM vehicles v{filter.Where}");
        filter.AddParametersTo(command);
        int total = 0, moving = 0, stopped = 0, parked = 0, offline = 0, unknown = 0;
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            total++;
            if (!live.TryGet(reader.GetInt64(0), out var state))
            {
                unknown++;
                continue;
            }

            switch (state.EffectiveState)
            {
                case LiveState.Moving:
                    moving++;
                    break;
                case LiveState.Stopped:
                    stopped++;
                    break;
                case LiveState.Parked:
                    parked++;
                    break;
                default:
                    offline++;
                    break;
            }
        }

        return TypedResults.Ok(new LiveStats(total, moving, stopped, parked, offline, unknown));
    }
}
