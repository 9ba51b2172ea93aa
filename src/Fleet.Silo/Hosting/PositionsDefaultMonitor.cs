using System.Diagnostics.Metrics;
using System.Globalization;
using Fleet.Core.Diagnostics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Fleet.Silo.Hosting;

/// <summary>What positions_default held when checked. Rows there mean days without their daily partition.</summary>
/// <param name="EstimatedRows">Exact up to <see cref="PositionsDefaultMonitor.SampleRows"/>, the planner's estimate beyond.</param>
/// <param name="Days">UTC days of the sampled rows, oldest first, at most <see cref="PositionsDefaultMonitor.MaxDays"/>.</param>
/// <param name="MoreDays">The sample held more days than <paramref name="Days"/> lists.</param>
public sealed record PositionsDefaultStatus(bool HasRows, long EstimatedRows, IReadOnlyList<DateOnly> Days, bool MoreDays, DateTimeOffset CheckedAt);

/// <summary>
/// Watches positions_default, the partition that catches reports whose day has no partition of its own. A cheap check
/// (the first <see cref="SampleRows"/> rows and the catalog's estimate), run by <c>/health</c>, by partition
/// maintenance and, when stale, by <c>/metrics</c>; the last result feeds the gauge <c>fleet.positions.default.rows</c>.
/// </summary>
public sealed class PositionsDefaultMonitor : IDisposable
{
    public const int SampleRows = 10_000;
    public const int MaxDays = 5;

    private const string Sql = """
        WITH sample AS (SELECT ts FROM positions_default LIMIT $1)
        SELECT (SELECT count(*) FROM sample),
               (SELECT reltuples::bigint FROM pg_class WHERE oid = 'positions_default'::regclass),
               ARRAY(SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date AS day FROM sample WHERE isfinite(ts) ORDER BY day LIMIT $2)
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _timeProvider;
    private readonly Meter _meter;
    private PositionsDefaultStatus? _last;

    public PositionsDefaultMonitor(NpgsqlDataSource dataSource, TimeProvider timeProvider, IMeterFactory? meterFactory = null)
    {
        _dataSource = dataSource;
        _timeProvider = timeProvider;
        _meter = FleetMeter.Create(meterFactory);
        _meter.CreateObservableGauge(
            "fleet.positions.default.rows",
            () => Last is { } last ? [new Measurement<long>(last.EstimatedRows)] : Array.Empty<Measurement<long>>(),
            "{row}",
            "Rows in positions_default (exact up to 10000, estimated beyond); above 0 means daily partitions are missing");
    }

    /// <summary>The latest check's result; null before the first.</summary>
    public PositionsDefaultStatus? Last => Volatile.Read(ref _last);

    public async Task<PositionsDefaultStatus> CheckAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(Sql);
        command.Parameters.Add(new NpgsqlParameter { Value = SampleRows });
        command.Parameters.Add(new NpgsqlParameter { Value = MaxDays + 1 });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var sampled = reader.GetInt64(0);
        // reltuples is -1 until the first VACUUM or ANALYZE, and lags behind; the sample is exact while it is not full.
        var estimate = sampled < SampleRows ? sampled : Math.Max(sampled, reader.IsDBNull(1) ? 0 : reader.GetInt64(1));
        var days = reader.GetFieldValue<DateOnly[]>(2);
        var status = new PositionsDefaultStatus(
            sampled > 0,
            estimate,
            days.Length > MaxDays ? days[..MaxDays] : days,
            days.Length > MaxDays,
            _timeProvider.GetUtcNow());
        Volatile.Write(ref _last, status);
        return status;
    }

    /// <summary>Checks again when the last result is older than <paramref name="maxAge"/>; a failed check keeps the old one.</summary>
    public async Task RefreshAsync(TimeSpan maxAge, CancellationToken cancellationToken)
    {
        if (Last is { } last && _timeProvider.GetUtcNow() - last.CheckedAt < maxAge)
        {
            return;
        }

        try
        {
            await CheckAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            // The database entry of /health reports the outage; the gauge keeps its last value meanwhile.
        }
    }

    public void Dispose()
    {
        if (FleetMeter.IsOwned(_meter))
        {
            _meter.Dispose();
        }
    }
}

/// <summary>
/// For <c>/health</c> ("positions-default"): Degraded while positions_default holds rows, naming their days. Nothing
/// is lost then (the rows are stored and maintenance moves them once their partitions exist), but a day's rows there
/// are slow to query and mean partition maintenance is behind or failing.
/// </summary>
public sealed class PositionsDefaultHealthCheck(PositionsDefaultMonitor monitor) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        PositionsDefaultStatus status;
        try
        {
            status = await monitor.CheckAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or TimeoutException)
        {
            // Degraded, not Unhealthy: the database entry already says whether PostgreSQL is down.
            return HealthCheckResult.Degraded("could not read positions_default: " + ex.Message);
        }

        var data = new Dictionary<string, object> { ["estimatedRows"] = status.EstimatedRows };
        if (!status.HasRows)
        {
            return HealthCheckResult.Healthy("no reports in positions_default", data);
        }

        var days = status.Days.Count == 0
            ? "unknown days"
            : string.Join(", ", status.Days.Select(d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))) + (status.MoreDays ? ", …" : "");
        data["days"] = days;
        return HealthCheckResult.Degraded(
            $"reports are landing in positions_default: partitions missing for {days} (about {status.EstimatedRows} rows)",
            data: data);
    }
}
