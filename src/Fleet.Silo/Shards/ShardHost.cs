using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Fleet.Core.Diagnostics;
using Fleet.Silo.Grains;
using Fleet.Silo.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Silo.Shards;

/// <summary>
/// Hosts the vehicle grains in <c>ShardCount</c> shards; a vehicle's shard is <c>(ulong)vehicleId % ShardCount</c>.
/// The hot path is gateway → <see cref="SubmitAsync"/> → shard queue → grain turn → shared
/// <see cref="PositionBatcher"/> → one COPY; a submission's commit task completes only after all of its reports
/// are committed to <c>positions</c>, so the gateway acknowledges nothing that could be lost.
/// This process owns every shard today; which shards it owns stays inside this class, so scale-out (a lease per
/// shard) changes nothing for callers.
/// </summary>
public sealed partial class ShardHost : IHostedService, IAsyncDisposable
{
    private const int Created = 0;
    private const int Running = 1;
    private const int Stopping = 2;
    private const int Stopped = 3;

    private static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(15);

    private readonly SiloOptions _options;
    private readonly VehicleShard[] _shards;
    private readonly PositionBatcher _batcher;
    private readonly VehicleStateStore _store;
    private readonly ConcurrentDictionary<long, VehicleLiveState> _live = new();
    private readonly StoreHealth _health = new();
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<ShardHost> _logger;
    private readonly CancellationTokenSource _abort = new();
    private readonly CancellationTokenSource _stopSweeps = new();
    private readonly SemaphoreSlim _sweepGate = new(1, 1);
    private readonly Meter _meter;
    private readonly NpgsqlDataSource _dataSource;
    private DateTimeOffset _lastSnapshotAt;
    private Task _sweepLoop = Task.CompletedTask;
    private Task _restore = Task.CompletedTask;
    private int _state;

    public ShardHost(
        NpgsqlDataSource dataSource,
        PositionWriter writer,
        IOptions<SiloOptions> options,
        ILiveStateSink sink,
        IGeofenceLookup geofences,
        TimeProvider timeProvider,
        ILogger<ShardHost> logger,
        IMeterFactory? meterFactory = null)
    {
        _options = options.Value;
        var validation = new SiloOptionsValidator().Validate(null, _options);
        if (validation.Failed)
        {
            throw new OptionsValidationException(SiloOptions.Section, typeof(SiloOptions), validation.Failures);
        }

        _timeProvider = timeProvider;
        _logger = logger;
        _dataSource = dataSource;
        _store = new VehicleStateStore(dataSource);
        _meter = FleetMeter.Create(meterFactory);
        _batcher = new PositionBatcher(writer, dataSource, _options, timeProvider, _health, logger, SiloMetrics.CreateCopyDuration(_meter));
        var settings = new GrainSettings(
            _options.MovingSpeedKmh,
            (long)_options.ParkedAfter.TotalMilliseconds,
            (long)_options.OfflineTimeout.TotalMilliseconds,
            geofences);
        var context = new ShardContext(_options, settings, _store, _batcher, _live, sink, timeProvider, _health, logger);
        _shards = new VehicleShard[_options.ShardCount];
        for (var i = 0; i < _shards.Length; i++)
        {
            _shards[i] = new VehicleShard(i, context);
        }

        SiloMetrics.CreateObservers(_meter, this, _batcher);
    }

    public int ShardCount => _shards.Length;

    /// <summary>Grains currently activated, over all shards.</summary>
    public int ActiveGrains => _shards.Sum(s => s.ActiveGrains);

    /// <summary>Messages waiting in the shard queues, over all shards.</summary>
    public int QueueDepth => _shards.Sum(s => s.QueueDepth);

    /// <summary>Backlog reports waiting in the shards' lower-priority lane.</summary>
    public int BacklogDepth => _shards.Sum(s => s.BacklogDepth);

    /// <summary>Degraded while the store fails (commits are then held back), with the last error.</summary>
    public ShardHostHealth Health
    {
        get
        {
            var (degraded, lastError, since) = _health.Read();
            return new ShardHostHealth(degraded, lastError, since, _batcher.PendingRows, ActiveGrains);
        }
    }

    /// <summary>The shard that owns <paramref name="vehicleId"/>: deterministic, so every process agrees.</summary>
    public static int ShardOf(long vehicleId, int shardCount) => (int)((ulong)vehicleId % (ulong)shardCount);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _state, Running, Created) != Created)
        {
            throw new InvalidOperationException("The shard host was already started.");
        }

        _lastSnapshotAt = _timeProvider.GetUtcNow();
        _batcher.Start();
        foreach (var shard in _shards)
        {
            shard.Start(_abort.Token);
        }

        _sweepLoop = Task.Run(() => SweepLoopAsync(_stopSweeps.Token), CancellationToken.None);
        _restore = Task.Run(() => RestoreAsync(_stopSweeps.Token), CancellationToken.None);
        LogStarted(_logger, _shards.Length, _options.MaxBatchRows, _options.FlushInterval.TotalMilliseconds);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Queues <paramref name="reports"/> to their shards. The returned ValueTask completes once every report is
    /// queued, which waits while a shard's queue is full (backpressure; nothing is dropped). It yields the commit
    /// task, which completes once every one of these reports is committed to <c>positions</c> (duplicates of
    /// stored reports count as committed), and faults when some will not be (the caller then does not acknowledge,
    /// so the broker redelivers). The caller keeps the payload buffers behind <see cref="InboundReport.ObdJson"/>
    /// alive until the commit task completes; after a fault they may still be read, so let the GC have them.
    /// </summary>
    public ValueTask<Task> SubmitAsync(ReadOnlyMemory<InboundReport> reports, CancellationToken cancellationToken)
    {
        EnsureRunning();
        if (reports.IsEmpty)
        {
            return ValueTask.FromResult(Task.CompletedTask);
        }

        var submission = new Submission(reports.Length);
        var span = reports.Span;
        for (var i = 0; i < span.Length; i++)
        {
            if (!_shards[ShardOf(span[i].VehicleId, _shards.Length)].Writer.TryWrite(new ShardMessage(span[i], submission, null)))
            {
                return SubmitRemainingAsync(reports, i, submission, cancellationToken);
            }
        }

        return ValueTask.FromResult(submission.Task);
    }

    /// <summary>
    /// Queues historic <paramref name="reports"/> (a terminal's store-and-forward backlog) in the shards' lower-priority
    /// lane: they are applied and stored after the live reports queued at the time, in submission order per shard
    /// (so per vehicle), at most <c>BacklogRowsInFlight</c> rows per COPY cycle. A vehicle's live reports submitted while
    /// it has backlog here are applied after that backlog, so its own upload is not taken for late reports. Never waits: the caller bounds how
    /// much backlog it has outstanding. Returns the commit task, as <see cref="SubmitAsync"/> does, with the same
    /// rule for the buffers behind <see cref="InboundReport.ObdJson"/>.
    /// </summary>
    public Task SubmitBacklog(ReadOnlyMemory<InboundReport> reports)
    {
        EnsureRunning();
        if (reports.IsEmpty)
        {
            return Task.CompletedTask;
        }

        var submission = new Submission(reports.Length);
        var span = reports.Span;
        var last = -1;
        for (var i = 0; i < span.Length; i++)
        {
            var index = ShardOf(span[i].VehicleId, _shards.Length);
            if (!_shards[index].TryWriteBacklog(new ShardMessage(span[i], submission, null)))
            {
                submission.Fail(new InvalidOperationException("The shard host is stopping."));
                break;
            }

            if (index != last)
            {
                // A full live queue means the loop is busy and checks the backlog lane anyway after that pass.
                _shards[index].Writer.TryWrite(ShardMessage.Nudge);
                last = index;
            }
        }

        return submission.Task;
    }

    /// <summary>The terminal's retained status (<c>online</c>/<c>offline</c>), received at <paramref name="atMs"/>.</summary>
    public Task SetOnlineAsync(long vehicleId, bool online, long atMs, CancellationToken cancellationToken = default) =>
        RunCommandAsync(vehicleId, new SetOnlineCommand(vehicleId, online, atMs), cancellationToken);

    /// <summary>The latest live state of a vehicle; cheap and safe from any thread.</summary>
    public bool TryGetLiveState(long vehicleId, [MaybeNullWhen(false)] out VehicleLiveState state) => _live.TryGetValue(vehicleId, out state);

    /// <summary>
    /// Every vehicle's latest live state, deactivated grains included (a vehicle parked overnight stays on the
    /// map). Lock-free: a concurrent change may or may not show.
    /// </summary>
    public IEnumerable<VehicleLiveState> EnumerateLiveStates()
    {
        foreach (var entry in _live)
        {
            yield return entry.Value;
        }
    }

    public LiveStats GetLiveStats()
    {
        int vehicles = 0, online = 0, moving = 0, stopped = 0, parked = 0;
        foreach (var entry in _live)
        {
            var state = entry.Value;
            vehicles++;
            online += state.Online ? 1 : 0;
            switch (state.Motion)
            {
                case MotionState.Moving:
                    moving++;
                    break;
                case MotionState.Stopped:
                    stopped++;
                    break;
                case MotionState.Parked:
                    parked++;
                    break;
            }
        }

        return new LiveStats(vehicles, online, moving, stopped, parked);
    }

    /// <summary>
    /// Runs one sweep now (the timer runs one every <c>SweepInterval</c>): offline, parked and midnight changes,
    /// idle deactivation, and the snapshot flush when due or when <paramref name="flushSnapshots"/> is set.
    /// Returns the number of snapshots written.
    /// </summary>
    public Task<int> SweepAsync(bool flushSnapshots, CancellationToken cancellationToken)
    {
        EnsureRunning();
        return SweepCoreAsync(flushSnapshots, cancellationToken);
    }

    private async Task<int> SweepCoreAsync(bool flushSnapshots, CancellationToken cancellationToken)
    {
        await _sweepGate.WaitAsync(cancellationToken);
        try
        {
            var now = _timeProvider.GetUtcNow();
            var collect = flushSnapshots || now - _lastSnapshotAt >= _options.SnapshotInterval;
            var commands = new SweepCommand[_shards.Length];
            for (var i = 0; i < _shards.Length; i++)
            {
                commands[i] = new SweepCommand(collect);
                await _shards[i].Writer.WriteAsync(new ShardMessage(default, null, commands[i]), cancellationToken);
            }

            await Task.WhenAll(commands.Select(c => c.Task)).WaitAsync(cancellationToken);
            if (!collect)
            {
                return 0;
            }

            var written = await SaveSnapshotsAsync(commands.SelectMany(c => c.Snapshots).ToList(), cancellationToken);
            _lastSnapshotAt = now;
            return written;
        }
        finally
        {
            _sweepGate.Release();
        }
    }

    /// <summary>
    /// Graceful stop: takes no more submissions, drains the shard queues, commits every buffered row and writes
    /// every dirty snapshot. If <paramref name="cancellationToken"/> fires first, what is left is abandoned and its
    /// submissions fault (their reports were not acknowledged, so the broker redelivers them).
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var previous = Interlocked.CompareExchange(ref _state, Stopping, Running);
        if (previous != Running)
        {
            Interlocked.CompareExchange(ref _state, Stopped, Created);
            return;
        }

        await _stopSweeps.CancelAsync();
        await _sweepLoop;
        await _restore;
        await using (cancellationToken.Register(_abort.Cancel))
        {
            // A manual sweep may hold the gate while its shards are stuck; the stop token must end that wait too.
            // Then carry on: the abort has fired, so the shards end and what is left faults instead of hanging.
            try
            {
                await _sweepGate.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                LogSweepAbandoned(_logger);
            }

            foreach (var shard in _shards)
            {
                shard.Complete();
            }

            await Task.WhenAll(_shards.Select(s => s.Completion));
            await _batcher.CompleteAsync(cancellationToken);
            await FlushFinalSnapshotsAsync(cancellationToken);
        }

        Volatile.Write(ref _state, Stopped);
        LogStopped(_logger);
    }

    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _state) == Running)
        {
            using var timeout = new CancellationTokenSource(DisposeTimeout);
            await StopAsync(timeout.Token);
        }

        _batcher.Dispose();
        if (FleetMeter.IsOwned(_meter))
        {
            _meter.Dispose();
        }

        _abort.Dispose();
        _stopSweeps.Dispose();
        _sweepGate.Dispose();
    }

    private async ValueTask<Task> SubmitRemainingAsync(ReadOnlyMemory<InboundReport> reports, int start, Submission submission, CancellationToken cancellationToken)
    {
        for (var i = start; i < reports.Length; i++)
        {
            var report = reports.Span[i];
            try
            {
                await _shards[ShardOf(report.VehicleId, _shards.Length)].Writer.WriteAsync(new ShardMessage(report, submission, null), cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
            {
                // The reports already queued are still stored, but this submission can never complete in full.
                var failure = ex is ChannelClosedException ? new InvalidOperationException("The shard host is stopping.", ex) : ex;
                submission.Fail(failure);
                _ = submission.Task.Exception; // observed: the caller gets the exception from here instead
                if (failure != ex)
                {
                    throw failure;
                }

                throw;
            }
        }

        return submission.Task;
    }

    private async Task RunCommandAsync(long vehicleId, ShardCommand command, CancellationToken cancellationToken)
    {
        EnsureRunning();
        try
        {
            await _shards[ShardOf(vehicleId, _shards.Length)].Writer.WriteAsync(new ShardMessage(default, null, command), cancellationToken);
        }
        catch (ChannelClosedException ex)
        {
            throw new InvalidOperationException("The shard host is stopping.", ex);
        }

        await command.Task.WaitAsync(cancellationToken);
    }

    private async Task SweepLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.SweepInterval, _timeProvider);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await SweepCoreAsync(flushSnapshots: false, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    LogSweepFailed(_logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>
    /// After a restart (a crash included) activates every vehicle that has a stored snapshot, so the live state is
    /// back at once and the sweep keeps judging vehicles that never report again (offline, parked). Runs beside the
    /// traffic: a report that activates a grain first simply wins. Retries while the database is unreachable.
    /// </summary>
    private async Task RestoreAsync(CancellationToken cancellationToken)
    {
        var started = _timeProvider.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(100);
        try
        {
            List<long> ids;
            while (true)
            {
                try
                {
                    ids = await ListSnapshotVehiclesAsync(cancellationToken);
                    break;
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
                {
                    LogRestoreRetry(_logger, delay.TotalMilliseconds, ex);
                    await Task.Delay(delay, _timeProvider, cancellationToken);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.StoreRetryMaxDelay.Ticks));
                }
            }

            var commands = new Task[ids.Count];
            for (var i = 0; i < ids.Count; i++)
            {
                var command = new ActivateCommand(ids[i]);
                commands[i] = command.Task;
                await _shards[ShardOf(ids[i], _shards.Length)].Writer.WriteAsync(new ShardMessage(default, null, command), cancellationToken);
            }

            await Task.WhenAll(commands).WaitAsync(cancellationToken);
            var elapsed = _timeProvider.GetElapsedTime(started);
            LogRestored(_logger, ids.Count, elapsed.TotalMilliseconds);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
        {
            // Stopping before the restore finished; the grains still activate on their next report.
        }
        catch (Exception ex)
        {
            // Best effort: a grain that failed to activate (say, the database blinked) activates on its next report.
            // Letting this escape would make StopAsync throw before it drains the shards and writes the snapshots.
            LogRestoreFailed(_logger, ex);
        }
    }

    private async Task<List<long>> ListSnapshotVehiclesAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand("SELECT vehicle_id FROM vehicle_state");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var ids = new List<long>();
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetInt64(0));
        }

        return ids;
    }

    /// <summary>One statement for all snapshots; a failure leaves the grains dirty for the next round.</summary>
    private async Task<int> SaveSnapshotsAsync(List<(VehicleGrain Grain, StoredSnapshot Snapshot)> snapshots, CancellationToken cancellationToken)
    {
        if (snapshots.Count == 0)
        {
            return 0;
        }

        try
        {
            var written = await _store.SaveAsync(snapshots.ConvertAll(s => s.Snapshot), cancellationToken);
            if (_health.Succeeded(StoreOperation.StateSave))
            {
                LogSnapshotsRecovered(_logger);
            }

            // Rows that did not take were older than the stored ones (or of unregistered vehicles): nothing to retry.
            foreach (var (grain, snapshot) in snapshots)
            {
                grain.MarkPersisted(snapshot.Version);
            }

            return written;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _health.Failed(StoreOperation.StateSave, ex, _timeProvider);
            LogSnapshotsFailed(_logger, snapshots.Count, ex);
            return 0;
        }
    }

    private async Task FlushFinalSnapshotsAsync(CancellationToken cancellationToken)
    {
        var snapshots = _shards.SelectMany(s => s.CollectDirtySnapshotsAfterStop()).ToList();
        var delay = TimeSpan.FromMilliseconds(100);
        while (snapshots.Count > 0)
        {
            try
            {
                await SaveSnapshotsAsync(snapshots, cancellationToken);
                snapshots.RemoveAll(s => !s.Grain.IsDirty);
                if (snapshots.Count == 0)
                {
                    break;
                }

                await Task.Delay(delay, _timeProvider, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.StoreRetryMaxDelay.Ticks));
        }

        if (snapshots.Count > 0)
        {
            LogSnapshotsLost(_logger, snapshots.Count);
        }
    }

    private void EnsureRunning()
    {
        var state = Volatile.Read(ref _state);
        if (state != Running)
        {
            throw new InvalidOperationException(state == Created ? "The shard host is not started." : "The shard host is stopping.");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard host started: {Shards} shards, batches of up to {MaxBatchRows} rows every {FlushIntervalMs} ms")]
    private static partial void LogStarted(ILogger logger, int shards, int maxBatchRows, double flushIntervalMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Restored {Count} vehicles from their stored snapshots in {ElapsedMs:F0} ms")]
    private static partial void LogRestored(ILogger logger, int count, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Listing the stored snapshots to restore failed; retrying in {DelayMs} ms")]
    private static partial void LogRestoreRetry(ILogger logger, double delayMs, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Restoring vehicles from their snapshots stopped early; the rest activate on their next report")]
    private static partial void LogRestoreFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Shard host stopped; queues drained and snapshots written")]
    private static partial void LogStopped(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping did not wait for a running sweep: the stop deadline passed first")]
    private static partial void LogSweepAbandoned(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sweep failed")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Count} grain snapshots failed; they stay dirty and are retried")]
    private static partial void LogSnapshotsFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Grain snapshot writes work again")]
    private static partial void LogSnapshotsRecovered(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Count} grain snapshots could not be written before stopping; those grains restart from older snapshots")]
    private static partial void LogSnapshotsLost(ILogger logger, int count);
}
