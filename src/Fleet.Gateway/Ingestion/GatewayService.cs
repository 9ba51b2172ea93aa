using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Fleet.Core.Diagnostics;
using Fleet.Core.Telemetry;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.Silo.Shards;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fleet.Gateway.Ingestion;

/// <summary>
/// Takes the terminals' reports from the broker to the shards. One persistent MQTT 5 session (clean start off, so the
/// broker keeps our subscriptions and queues while we are away) with manual acknowledgement, subscribed at QoS 1 to
/// every terminal's telemetry and status. Per received batch:
/// <list type="number">
/// <item>the receive loop resolves each topic's terminal in the <see cref="TerminalRegistry"/>, parses and validates
/// the payload, drops recent duplicates, starts the reject write, and submits the accepted reports to the
/// <see cref="ShardHost"/> in one call;</item>
/// <item>the ack loop takes the batches in arrival order, waits for each one's commit (and reject write), and only
/// then acknowledges it, so the broker redelivers whatever was not stored.</item>
/// </list>
/// The two loops overlap (batch N+1 is parsed and submitted while N commits), up to
/// <see cref="GatewayOptions.MaxInFlightBatches"/>. Historic arrays (store-and-forward uploads, see
/// <see cref="GatewayOptions.HistoricAge"/>) take a third loop, the backlog lane: acknowledged on their own, in their
/// own arrival order, after their commit, so a slow day-long upload never holds back the live batches' acks. A failed commit ends the session: nothing after it may be
/// acknowledged out of order, so a new session resumes and the broker redelivers everything unacknowledged.
/// A graceful stop acknowledges what commits in time; a stop whose token has fired acknowledges nothing more.
/// </summary>
public sealed partial class GatewayService : BackgroundService
{
    private readonly ShardHost _shardHost;
    private readonly TerminalRegistry _registry;
    private readonly TelemetryRejectStore _rejectStore;
    private readonly GatewayOptions _options;
    private readonly MqttConnectionOptions _connection;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<GatewayService> _logger;
    private readonly ILogger<MqttClient> _mqttLogger;
    private readonly GatewayMetrics _metrics;
    private readonly TelemetryBatchProcessor _processor;
    private readonly CancellationTokenSource _abandon = new();
    private readonly Meter _meter;
    private readonly Func<List<TelemetryRejectRow>, CancellationToken, Task> _writeRejects;
    private MqttClient? _client;

    public GatewayService(
        ShardHost shardHost,
        TerminalRegistry registry,
        TelemetryRejectStore rejectStore,
        IOptions<GatewayOptions> options,
        IOptions<MqttConnectionOptions> connection,
        TimeProvider timeProvider,
        ILoggerFactory loggerFactory,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options.Value;
        var validation = new GatewayOptionsValidator().Validate(null, _options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(GatewayOptions.Section, typeof(GatewayOptions), validation.Failures);
        }

        _connection = connection.Value;
        if (string.IsNullOrEmpty(_connection.ClientId))
        {
            throw new OptionsValidationException(MqttConnectionOptions.Section, typeof(MqttConnectionOptions), ["A persistent session needs Fleet:Mqtt:ClientId."]);
        }

        _shardHost = shardHost;
        _registry = registry;
        _rejectStore = rejectStore;
        _timeProvider = timeProvider;
        _logger = loggerFactory.CreateLogger<GatewayService>();
        _mqttLogger = loggerFactory.CreateLogger<MqttClient>();
        _metrics = new GatewayMetrics(_options.MaxRejectCounterTerminals);
        _processor = new TelemetryBatchProcessor(registry, shardHost, _metrics, _options.DuplicateWindow, historicAge: _options.HistoricAge);
        _meter = FleetMeter.Create(meterFactory);
        _metrics.Observe(_meter, () => Volatile.Read(ref _client)?.IsConnected ?? false);
        _writeRejects = WriteRejectsAsync;
    }

    /// <summary>The terminal registry this gateway resolves topics against.</summary>
    public TerminalRegistry Registry => _registry;

    public GatewayHealth Health => _metrics.Snapshot(Volatile.Read(ref _client)?.IsConnected ?? false, _registry);

    /// <summary>Rejects counted per terminal since start (terminals beyond the tracked number share the key <c>*</c>).</summary>
    public IReadOnlyDictionary<string, long> RejectsByTerminal() => _metrics.RejectsByTerminal();

    public IReadOnlyDictionary<TelemetryRejectReason, long> RejectsByReason() => _metrics.RejectsByReason();

    /// <summary>
    /// Stops receiving and acknowledges the batches already in flight as they commit. When
    /// <paramref name="cancellationToken"/> fires (or has fired) they are abandoned unacknowledged instead, for the
    /// broker to redeliver on the next session. Returns once the MQTT client is closed.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await using (cancellationToken.Register(static state => ((CancellationTokenSource)state!).Cancel(), _abandon))
        {
            await base.StopAsync(cancellationToken);
        }

        if (ExecuteTask is { } execution)
        {
            // Abandoning is prompt; the client's close is bounded by its own timeouts.
            await execution.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _abandon.Dispose();
        if (FleetMeter.IsOwned(_meter))
        {
            _meter.Dispose();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var registryStop = new CancellationTokenSource();
        var registryTask = _registry.RunAsync(registryStop.Token);
        var pruneTask = PruneLoopAsync(stoppingToken);
        try
        {
            await _registry.WaitUntilLoadedAsync(stoppingToken);
            var failures = 0;
            while (!stoppingToken.IsCancellationRequested)
            {
                if (await RunSessionAsync(stoppingToken))
                {
                    failures = 0;
                }
                else if (!stoppingToken.IsCancellationRequested)
                {
                    var delay = Backoff(failures++);
                    LogSessionRestart(_logger, delay.TotalMilliseconds);
                    await Task.Delay(delay, _timeProvider, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            await registryStop.CancelAsync();
            await registryTask.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await pruneTask.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>One MQTT client, connected until stopping or a failure. Returns false when it ended in a failure.</summary>
    private async Task<bool> RunSessionAsync(CancellationToken stoppingToken)
    {
        Interlocked.Increment(ref _metrics.Sessions);
        var client = new MqttClient(BuildClientOptions(), _mqttLogger, _timeProvider);
        try
        {
            var connected = await client.ConnectAsync(stoppingToken);

            // A new session follows a failure or a restart: what the broker redelivers now must not be taken for
            // duplicates of reports that were never stored. (The receive loop of the last session has ended.)
            _processor.ResetDuplicates();

            using var session = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var inFlight = Channel.CreateBounded<InFlightBatch>(new BoundedChannelOptions(_options.MaxInFlightBatches)
            {
                SingleReader = true,
                SingleWriter = true,
                FullMode = BoundedChannelFullMode.Wait,
            });

            var backlog = Channel.CreateBounded<BacklogMessage>(new BoundedChannelOptions(_options.MaxBacklogMessages)
            {
                SingleReader = true,
                SingleWriter = true,
                FullMode = BoundedChannelFullMode.Wait,
            });

            // Reading starts before subscribing: a resumed session's backlog arrives at once, and if nobody read it the
            // client's queue would fill and the SUBACK behind it would never be seen.
            var ackLoop = AckLoopAsync(client, inFlight.Reader, session, stoppingToken);
            var backlogLoop = BacklogAckLoopAsync(client, backlog.Reader, session, stoppingToken);
            var receiveLoop = RunReceiveLoopAsync(client, inFlight.Writer, backlog.Writer, session);
            try
            {
                // Always (re)subscribe: the client only resubscribes filters it knows. Retained statuses come once,
                // when the subscription is new, not on every resume.
                await client.SubscribeAsync(
                    [
                        new MqttSubscription(GatewayTopics.TelemetryFilter, MqttQualityOfService.AtLeastOnce) { RetainHandling = 1 },
                        new MqttSubscription(GatewayTopics.StatusFilter, MqttQualityOfService.AtLeastOnce) { RetainHandling = 1 },
                    ],
                    session.Token);
                Volatile.Write(ref _client, client);
                LogConnected(_logger, _connection.Host, _connection.Port, _connection.ClientId, connected.SessionPresent);
            }
            catch (OperationCanceledException) when (session.IsCancellationRequested)
            {
                // Stopping, or the session already failed.
            }
            catch (Exception ex)
            {
                Failed(ex);
                LogSessionFailed(_logger, _connection.Host, _connection.Port, ex);
                await session.CancelAsync();
            }

            await receiveLoop;
            var healthy = await ackLoop;
            healthy &= await backlogLoop;
            while (inFlight.Reader.TryRead(out var left))
            {
                Abandon(left);
            }

            while (backlog.Reader.TryRead(out var left))
            {
                Abandon(left);
            }

            return stoppingToken.IsCancellationRequested || (healthy && !session.IsCancellationRequested);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            Failed(ex);
            LogSessionFailed(_logger, _connection.Host, _connection.Port, ex);
            return false;
        }
        finally
        {
            Volatile.Write(ref _client, null);
            // DISCONNECT, not a drop: the acks queued so far are written first, and the session (with whatever was
            // not acknowledged) stays at the broker for the next one.
            await client.DisposeAsync();
        }
    }

    private async Task RunReceiveLoopAsync(MqttClient client, ChannelWriter<InFlightBatch> inFlight, ChannelWriter<BacklogMessage> backlog, CancellationTokenSource session)
    {
        try
        {
            await ReceiveLoopAsync(client, inFlight, backlog, session.Token);
        }
        catch (OperationCanceledException) when (session.IsCancellationRequested)
        {
            // Stopping, or the ack loop ended the session after a failed commit.
        }
        catch (Exception ex)
        {
            // The client closed under us (it reconnects by itself, so this is rare): start a new session.
            Failed(ex);
            LogReceiveFailed(_logger, ex);
            await session.CancelAsync();
        }
        finally
        {
            inFlight.TryComplete();
            backlog.TryComplete();
        }
    }

    private async Task ReceiveLoopAsync(MqttClient client, ChannelWriter<InFlightBatch> inFlight, ChannelWriter<BacklogMessage> backlog, CancellationToken sessionToken)
    {
        while (true)
        {
            var batch = await client.ReadBatchAsync(sessionToken);
            var entry = await _processor.ProcessAsync(batch, _timeProvider.GetUtcNow(), _writeRejects, sessionToken);
            Interlocked.Increment(ref _metrics.InFlightBatches);
            Interlocked.Add(ref _metrics.InFlightMessages, batch.Count);
            var liveQueued = false;
            var backlogQueued = 0;
            try
            {
                // The live part first: its acks must not wait for room on the backlog lane.
                await inFlight.WriteAsync(entry, sessionToken);
                liveQueued = true;
                for (; backlogQueued < (entry.Backlog?.Count ?? 0); backlogQueued++)
                {
                    // Waits only when MaxBacklogMessages are outstanding: that bounds the copied payloads in memory.
                    await backlog.WriteAsync(entry.Backlog![backlogQueued], sessionToken);
                }
            }
            catch (OperationCanceledException)
            {
                if (!liveQueued)
                {
                    Abandon(entry);
                }

                for (var i = backlogQueued; i < (entry.Backlog?.Count ?? 0); i++)
                {
                    Abandon(entry.Backlog![i]);
                }

                throw;
            }
        }
    }

    /// <summary>Acknowledges batches in arrival order, each once it is stored. Returns false when a batch failed.</summary>
    private async Task<bool> AckLoopAsync(MqttClient client, ChannelReader<InFlightBatch> inFlight, CancellationTokenSource session, CancellationToken stoppingToken)
    {
        var abandon = _abandon.Token;
        try
        {
            while (await inFlight.WaitToReadAsync(abandon))
            {
                while (inFlight.TryRead(out var entry))
                {
                    try
                    {
                        await entry.WhenSettledAsync(abandon);
                    }
                    catch (Exception ex)
                    {
                        Abandon(entry);
                        if (ex is OperationCanceledException && (abandon.IsCancellationRequested || stoppingToken.IsCancellationRequested))
                        {
                            return true; // Stopping: the rest is redelivered to the next session.
                        }

                        // Nothing after this batch may be acknowledged before it: a new session gets it all redelivered.
                        Failed(ex);
                        LogCommitFailed(_logger, entry.Batch.Count, ex);
                        await session.CancelAsync();
                        return false;
                    }

                    // Committed, so acknowledging is right even if we are abandoning now (it only queues the PUBACKs).
                    // Messages deferred to the backlog lane are left out; that lane acknowledges them.
                    await client.AcknowledgeAsync(entry.Batch, CancellationToken.None);
                    Interlocked.Add(ref _metrics.MessagesAcknowledged, entry.LiveMessages);
                    Interlocked.Add(ref _metrics.ReportsCommitted, entry.Accepted);
                    Interlocked.Decrement(ref _metrics.InFlightBatches);
                    Interlocked.Add(ref _metrics.InFlightMessages, -entry.LiveMessages);
                    entry.Batch.Dispose();
                }
            }

            return true;
        }
        catch (OperationCanceledException) when (abandon.IsCancellationRequested)
        {
            return true;
        }
    }

    /// <summary>
    /// The backlog lane's acks: each historic message once its reports are committed, in the lane's arrival order.
    /// Returns false when a commit failed (the session then ends, as for a live batch).
    /// </summary>
    private async Task<bool> BacklogAckLoopAsync(MqttClient client, ChannelReader<BacklogMessage> backlog, CancellationTokenSource session, CancellationToken stoppingToken)
    {
        // A failed session gives up on the rest at once (the broker redelivers it to the next one): a throttled upload
        // must not hold off the reconnect. A stop cancels the session too, but still acks what commits until abandoned.
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(_abandon.Token);
        using var onFailure = session.Token.Register(() =>
        {
            if (!stoppingToken.IsCancellationRequested)
            {
                giveUp.Cancel();
            }
        });
        var abandon = giveUp.Token;
        try
        {
            while (await backlog.WaitToReadAsync(abandon))
            {
                while (backlog.TryRead(out var message))
                {
                    try
                    {
                        await message.WhenSettledAsync(abandon);
                    }
                    catch (Exception ex)
                    {
                        Abandon(message);
                        if (ex is OperationCanceledException && (abandon.IsCancellationRequested || stoppingToken.IsCancellationRequested))
                        {
                            return true;
                        }

                        Failed(ex);
                        LogCommitFailed(_logger, 1, ex);
                        await session.CancelAsync();
                        return false;
                    }

                    await client.AcknowledgeAsync(message.Ack, CancellationToken.None);
                    Interlocked.Increment(ref _metrics.MessagesAcknowledged);
                    Interlocked.Add(ref _metrics.ReportsCommitted, message.Accepted);
                    Interlocked.Decrement(ref _metrics.InFlightMessages);
                }
            }

            return true;
        }
        catch (OperationCanceledException) when (abandon.IsCancellationRequested)
        {
            return true;
        }
    }

    private void Abandon(InFlightBatch entry)
    {
        Interlocked.Decrement(ref _metrics.InFlightBatches);
        Interlocked.Add(ref _metrics.InFlightMessages, -entry.LiveMessages);
        _ = entry.ReleaseWhenSettledAsync();
    }

    private void Abandon(BacklogMessage message)
    {
        Interlocked.Decrement(ref _metrics.InFlightMessages);
        message.Abandon();
    }

    /// <summary>
    /// Retries until stored: the batch's ack waits for this, so a reject is never lost, only delayed. Gives up once
    /// the session has ended: its batch will not be acknowledged, and the broker's redelivery to the next session
    /// writes the rows itself, so a late success here would only record them twice.
    /// </summary>
    private async Task WriteRejectsAsync(List<TelemetryRejectRow> rows, CancellationToken sessionToken)
    {
        var abandon = _abandon.Token;
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(abandon, sessionToken);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                // An attempt under way is left to finish when only the session ends (a graceful stop still acks
                // what is stored in time); the abandon token cuts it short.
                await _rejectStore.WriteAsync(rows, abandon);
                return;
            }
            catch (Exception ex) when (!giveUp.IsCancellationRequested)
            {
                Failed(ex);
                var delay = Backoff(attempt);
                LogRejectWriteFailed(_logger, rows.Count, delay.TotalMilliseconds, ex);
                await Task.Delay(delay, _timeProvider, giveUp.Token);
            }
        }
    }

    private async Task PruneLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.RejectPruneInterval, _timeProvider);
        try
        {
            do
            {
                try
                {
                    var cutoff = _timeProvider.GetUtcNow().AddDays(-_options.RejectRetentionDays);
                    var deleted = await _rejectStore.PruneAsync(cutoff, _options.RejectRowsMax, stoppingToken);
                    if (deleted > 0)
                    {
                        LogRejectsPruned(_logger, deleted, _options.RejectRetentionDays, _options.RejectRowsMax);
                    }
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    LogPruneFailed(_logger, ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private MqttClientOptions BuildClientOptions() => _connection.ToClientOptions() with
    {
        ProtocolVersion = MqttProtocolVersion.V500,
        CleanStart = false,
        SessionExpiryInterval = (uint)_options.SessionExpiry.TotalSeconds,
        ManualAcknowledge = true,
        ReceiveMaximum = (ushort)_options.ReceiveMaximum,
        MaximumBatchMessages = _options.MaxBatchMessages,
        MaximumPacketSize = _options.MaxPacketBytes,
        KeepAlive = _options.KeepAlive,
        AutoReconnect = true,
        ReconnectMaxDelay = _options.RetryMaxDelay,
        ReceiveQueueBatches = 4,
    };

    private void Failed(Exception exception) => _metrics.Failed(exception, _timeProvider.GetUtcNow());

    private TimeSpan Backoff(int attempt)
    {
        var ticks = _options.RetryMinDelay.Ticks * Math.Pow(2, Math.Min(attempt, 20));
        return ticks >= _options.RetryMaxDelay.Ticks ? _options.RetryMaxDelay : TimeSpan.FromTicks((long)ticks);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Gateway connected to {Host}:{Port} as {ClientId} (session present: {SessionPresent})")]
    private static partial void LogConnected(ILogger logger, string host, int port, string clientId, bool sessionPresent);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Gateway session with {Host}:{Port} failed")]
    private static partial void LogSessionFailed(ILogger logger, string host, int port, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Starting a new gateway session in {DelayMs:F0} ms")]
    private static partial void LogSessionRestart(ILogger logger, double delayMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Receiving from the broker failed; starting a new session")]
    private static partial void LogReceiveFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "A batch of {Messages} messages was not committed; it and everything after it stay unacknowledged and are redelivered to a new session")]
    private static partial void LogCommitFailed(ILogger logger, int messages, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Rows} telemetry rejects failed; retrying in {DelayMs:F0} ms (their batch waits unacknowledged)")]
    private static partial void LogRejectWriteFailed(ILogger logger, int rows, double delayMs, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Pruned {Rows} telemetry rejects (older than {Days} days or beyond {MaxRows} rows)")]
    private static partial void LogRejectsPruned(ILogger logger, long rows, int days, long maxRows);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pruning telemetry rejects failed; retried at the next interval")]
    private static partial void LogPruneFailed(ILogger logger, Exception exception);
}
