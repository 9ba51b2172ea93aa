using Fleet.Silo.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Silo.Hosting;

/// <summary>
/// Applies the schema migrations during host start-up. PostgreSQL may still be starting when the host does
/// (./fleet up starts them together), so connection failures are retried for a bounded time before start fails.
/// </summary>
internal sealed partial class MigrationHostedService(
    NpgsqlDataSource dataSource,
    IOptions<DatabaseOptions> options,
    TimeProvider timeProvider,
    ILogger<MigrationHostedService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var deadline = timeProvider.GetUtcNow().AddSeconds(options.Value.StartupRetrySeconds);
        var delay = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                var result = await MigrationRunner.ApplyAsync(dataSource, logger, cancellationToken);
                LogMigrated(logger, result.CurrentVersion, result.Applied.Count);
                return;
            }
            catch (NpgsqlException ex) when (ex.IsTransient && timeProvider.GetUtcNow() < deadline)
            {
                LogDatabaseNotReady(logger, ex.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, timeProvider, cancellationToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 4000));
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Database schema at version {Version} ({Applied} migrations applied now)")]
    private static partial void LogMigrated(ILogger logger, int version, int applied);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL is not reachable yet ({Reason}); retrying in {DelayMs} ms")]
    private static partial void LogDatabaseNotReady(ILogger logger, string reason, double delayMs);
}
