using System.Globalization;
using Fleet.Silo.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Silo.Hosting;

/// <summary>
/// Hourly position partition upkeep: keeps daily partitions created ahead of today, so ingest never waits on DDL at
/// midnight; gives days whose rows landed in positions_default their partition; drops the days past the retention;
/// and warns while positions_default still holds rows. Each step that fails is logged and retried next round;
/// reports meanwhile go to the default partition, never rejected.
/// </summary>
internal sealed partial class PartitionMaintenanceService(
    NpgsqlDataSource dataSource,
    PositionsDefaultMonitor defaultMonitor,
    IOptions<DatabaseOptions> options,
    TimeProvider timeProvider,
    ILogger<PartitionMaintenanceService> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, timeProvider);
        do
        {
            await RunRoundAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>One round; each step is tried even when an earlier one failed.</summary>
    internal async Task RunRoundAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await StepAsync("create ahead", async ct =>
        {
            var created = await PartitionMaintenance.EnsurePositionPartitionsAsync(dataSource, settings.PartitionDaysAhead, ct);
            if (created > 0)
            {
                LogCreated(logger, created, settings.PartitionDaysAhead);
            }
        }, cancellationToken);

        await StepAsync("adopt default rows", async ct =>
        {
            var adopted = await PartitionMaintenance.AdoptDefaultPositionDaysAsync(dataSource, settings.RetentionDays, ct);
            if (adopted.Length > 0)
            {
                LogAdopted(logger, adopted.Length, adopted);
            }
        }, cancellationToken);

        await StepAsync("drop expired", async ct =>
        {
            var dropped = await PartitionMaintenance.DropExpiredPositionPartitionsAsync(dataSource, settings.RetentionDays, ct);
            if (dropped.Length > 0)
            {
                LogDropped(logger, dropped.Length, settings.RetentionDays, dropped);
            }
        }, cancellationToken);

        await StepAsync("check default", async ct =>
        {
            var status = await defaultMonitor.CheckAsync(ct);
            if (status.HasRows && logger.IsEnabled(LogLevel.Warning))
            {
                var days = string.Join(", ", status.Days.Select(d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
                LogDefaultHasRows(logger, status.EstimatedRows, days, settings.RetentionDays);
            }
        }, cancellationToken);
    }

    private async Task StepAsync(string step, Func<CancellationToken, Task> action, CancellationToken cancellationToken)
    {
        try
        {
            await action(cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogFailed(logger, step, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created {Count} position partitions (keeping {DaysAhead} days ahead)")]
    private static partial void LogCreated(ILogger logger, int count, int daysAhead);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Created {Count} position partitions for days whose reports were in positions_default, and moved the rows: {Partitions}")]
    private static partial void LogAdopted(ILogger logger, int count, string[] partitions);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dropped {Count} position partitions past the retention of {RetentionDays} days: {Partitions}")]
    private static partial void LogDropped(ILogger logger, int count, int retentionDays, string[] partitions);

    [LoggerMessage(Level = LogLevel.Warning, Message = "positions_default still holds about {Rows} rows after maintenance (days {Days}); days past the retention of {RetentionDays} days or over a year ahead get no partition")]
    private static partial void LogDefaultHasRows(ILogger logger, long rows, string days, int retentionDays);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Position partition maintenance step '{Step}' failed; retrying in an hour, reports meanwhile go to positions_default")]
    private static partial void LogFailed(ILogger logger, string step, Exception exception);
}
