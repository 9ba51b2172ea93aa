using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Fleet.Silo.Persistence;

/// <summary>
/// What a <see cref="PostgresNotificationListener"/> hands its handler: the distinct payloads received since the last
/// call, or <paramref name="Resync"/> after a (re)connect, when notices may have been missed and everything must be re-read.
/// </summary>
public sealed record PostgresNotificationBatch(IReadOnlySet<string> Payloads, bool Resync);

/// <summary>Timing of a <see cref="PostgresNotificationListener"/>.</summary>
public sealed record PostgresNotificationListenerOptions
{
    /// <summary>A burst of notices is handled once, after this much quiet.</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>A steady stream of notices is still handled at least this often.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How often an idle connection is checked, so a silently dead one is noticed.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Holds one connection that LISTENs on a channel and calls a handler, one call at a time, for each debounced burst of
/// notices. After every (re)connect the handler is first called with <see cref="PostgresNotificationBatch.Resync"/>, so it
/// re-reads everything: notices sent while nobody listened are lost. Any failure, the handler's included, ends the
/// connection and starts over after a backoff.
/// </summary>
public sealed partial class PostgresNotificationListener
{
    /// <summary>The channel migration 0003 notifies on registry changes; the payload is the table's name.</summary>
    public const string RegistryChannel = "fleet_registry";

    private readonly NpgsqlDataSource _dataSource;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly PostgresNotificationListenerOptions _options;
    private readonly string _listenSql;
    private long _connectionCount;

    public PostgresNotificationListener(
        NpgsqlDataSource dataSource,
        string channel,
        ILogger logger,
        TimeProvider? timeProvider = null,
        PostgresNotificationListenerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        ArgumentNullException.ThrowIfNull(logger);
        if (channel is null || !ChannelName().IsMatch(channel))
        {
            throw new ArgumentException($"'{channel}' is not a plain lower-case identifier", nameof(channel));
        }

        _dataSource = dataSource;
        Channel = channel;
        _logger = logger;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _options = options ?? new PostgresNotificationListenerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.Debounce, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxDelay, _options.Debounce, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.KeepAliveInterval, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.ReconnectMaxDelay, _options.ReconnectMinDelay, nameof(options));

        // LISTEN takes no parameters; the name was checked against a strict pattern above.
        _listenSql = $"LISTEN \"{channel}\"";
    }

    public string Channel { get; }

    /// <summary>How many times a connection started listening; more than one means it reconnected.</summary>
    public long ConnectionCount => Interlocked.Read(ref _connectionCount);

    /// <summary>Listens and calls <paramref name="handler"/> until <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunAsync(Func<PostgresNotificationBatch, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await ListenAsync(handler, () => failures = 0, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Whatever failed, starting over with a fresh connection and a full resync is the safe recovery.
                var delay = Backoff(failures++);
                LogFailed(_logger, ex, Channel, delay.TotalMilliseconds);
                try
                {
                    await Task.Delay(delay, _timeProvider, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task ListenAsync(Func<PostgresNotificationBatch, CancellationToken, Task> handler, Action connected, CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        var payloads = new HashSet<string>(StringComparer.Ordinal);
        connection.Notification += (_, e) => payloads.Add(e.Payload);
        await ExecuteListenAsync(connection, cancellationToken);
        Interlocked.Increment(ref _connectionCount);
        LogListening(_logger, Channel, connection.ProcessID);

        await handler(new PostgresNotificationBatch(Take(payloads), Resync: true), cancellationToken);
        connected();

        while (true)
        {
            if (payloads.Count == 0 && !await connection.WaitAsync(_options.KeepAliveInterval, cancellationToken))
            {
                // Repeating LISTEN is a no-op that proves the connection alive and keeps it recognisable in pg_stat_activity.
                await ExecuteListenAsync(connection, cancellationToken);
                continue;
            }

            // Gather the rest of the burst: wait for a quiet Debounce, but no longer than MaxDelay in all.
            var first = _timeProvider.GetTimestamp();
            while (true)
            {
                var left = _options.MaxDelay - _timeProvider.GetElapsedTime(first);
                if (left <= TimeSpan.Zero || !await connection.WaitAsync(left < _options.Debounce ? left : _options.Debounce, cancellationToken))
                {
                    break;
                }
            }

            await handler(new PostgresNotificationBatch(Take(payloads), Resync: false), cancellationToken);
        }
    }

    private async Task ExecuteListenAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(_listenSql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static HashSet<string> Take(HashSet<string> payloads)
    {
        var taken = new HashSet<string>(payloads, StringComparer.Ordinal);
        payloads.Clear();
        return taken;
    }

    private TimeSpan Backoff(int failures)
    {
        var ticks = _options.ReconnectMinDelay.Ticks * Math.Pow(2, Math.Min(failures, 20));
        return ticks >= _options.ReconnectMaxDelay.Ticks ? _options.ReconnectMaxDelay : TimeSpan.FromTicks((long)ticks);
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex ChannelName();

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening for notifications on {Channel} (backend {BackendPid})")]
    private static partial void LogListening(ILogger logger, string channel, int backendPid);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification listener on {Channel} failed; reconnecting and resyncing in {DelayMs} ms")]
    private static partial void LogFailed(ILogger logger, Exception exception, string channel, double delayMs);
}
