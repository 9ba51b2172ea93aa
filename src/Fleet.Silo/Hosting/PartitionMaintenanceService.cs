using Fleet.Silo.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Silo.Hosting;

/// <summary>
/// Keeps daily position partitions created ahead of today, hourly, so ingest never waits on DDL at midnight.
/// A failed round is logged and retried next round; reports meanwhile land in the default partition.
/// </summary>
internal sealed partial class PartitionMaintenanceService(
    NpgsqlDataSource dataSource,
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
            try
            {
                var created = await PartitionMaintenance.EnsurePositionPartitionsAsync(dataSource, options.Value.PartitionDaysAhead, stoppingToken);
                if (created > 0)
                {
                    LogCreated(logger, created, options.Value.PartitionDaysAhead);
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                LogFailed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created {Count} position partitions (keeping {DaysAhead} days ahead)")]
    private static partial void LogCreated(ILogger logger, int count, int daysAhead);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Position partition maintenance failed; retrying in an hour, reports meanwhile go to positions_default")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
