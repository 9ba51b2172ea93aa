using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Fleet.Silo.Shards;

/// <summary>
/// The shard host's view of its store. Degraded while position writes or grain state reads/writes fail: commits
/// are then held back (the gateway does not acknowledge), and the bounded queues push back on the gateway.
/// </summary>
/// <param name="PendingRows">Rows accepted but not yet committed (waiting or in the running COPY).</param>
public sealed record ShardHostHealth(bool Degraded, string? LastError, DateTimeOffset? DegradedSince, int PendingRows, int ActiveGrains);

/// <summary>For <c>/health</c>: Healthy, or Degraded with the last store error.</summary>
public sealed class ShardHostHealthCheck(ShardHost host) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var health = host.Health;
        var data = new Dictionary<string, object> { ["pendingRows"] = health.PendingRows, ["activeGrains"] = health.ActiveGrains };
        return Task.FromResult(health.Degraded
            ? HealthCheckResult.Degraded($"store failing since {health.DegradedSince:O}: {health.LastError}", data: data)
            : HealthCheckResult.Healthy($"{health.ActiveGrains} active grains", data));
    }
}

/// <summary>Counts over the live read model.</summary>
public readonly record struct LiveStats(int Vehicles, int Online, int Moving, int Stopped, int Parked);
