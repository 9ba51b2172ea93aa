using System.Diagnostics.Metrics;
using Fleet.Core.Telemetry;
using Fleet.Silo.Persistence;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Fleet.Silo.Shards;

/// <summary>
/// The store step, shared by all shards: rows from every shard accumulate in one buffer, which is written with
/// one COPY when it holds <c>MaxBatchRows</c> or its oldest row has waited <c>FlushInterval</c>. One COPY runs at
/// a time while the next batch fills (double buffering); when that one is full too, appending shards wait, which
/// backs up their queues and so the gateway. Submissions complete only after the COPY holding their last row has
/// committed. A failing database is retried with backoff for as long as it takes, rows kept in memory.
/// </summary>
internal sealed partial class PositionBatcher : IDisposable
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);

    // Same bound as the table's CHECK and the gateway's rejects: enough to diagnose, never a flood.
    private const int PayloadHeadBytes = 256;

    private const string InsertRejectSql = """
        INSERT INTO telemetry_rejects (terminal_id, received_at, reason, field, payload_head)
        SELECT coalesce((SELECT id FROM terminals WHERE vehicle_id = $1), 'vehicle:' || $1::text), $2, $3, $4, $5
        """;

    private readonly PositionWriter _writer;
    private readonly NpgsqlDataSource _dataSource;
    private readonly int _maxRows;
    private readonly TimeSpan _flushInterval;
    private readonly TimeSpan _retryMaxDelay;
    private readonly TimeProvider _timeProvider;
    private readonly StoreHealth _health;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly Histogram<double>? _copyDuration;

    private List<PositionRow> _filling;
    private List<PositionRow> _flushing;
    private List<SubmissionRun> _fillingRuns = [];
    private List<SubmissionRun> _flushingRuns = [];
    private long _firstRowTimestamp;
    private TaskCompletionSource? _wake;
    private TaskCompletionSource? _spaceAvailable;
    private TaskCompletionSource? _backlogRoom;
    private int _fillingBacklog;
    private int _flushingBacklog;
    // Backlog rows reserved by the shards (over all of them), from before they are taken until their COPY is done.
    private int _backlogReserved;
    private readonly int _backlogLimit;
    private bool _completed;
    private int _flushingCount;
    private Task? _loop;
    private long _rowsInserted;
    private long _rowsDuplicate;
    private long _rowsStoreRefused;

    public PositionBatcher(PositionWriter writer, NpgsqlDataSource dataSource, SiloOptions options, TimeProvider timeProvider, StoreHealth health, ILogger logger, Histogram<double>? copyDuration = null)
    {
        _copyDuration = copyDuration;
        _writer = writer;
        _dataSource = dataSource;
        _maxRows = options.MaxBatchRows;
        _backlogLimit = options.BacklogRowsInFlight;
        _flushInterval = options.FlushInterval;
        _retryMaxDelay = options.StoreRetryMaxDelay;
        _timeProvider = timeProvider;
        _health = health;
        _logger = logger;
        _filling = new List<PositionRow>(_maxRows);
        _flushing = new List<PositionRow>(_maxRows);
    }

    /// <summary>Rows accepted and not yet committed.</summary>
    public int PendingRows
    {
        get
        {
            lock (_gate)
            {
                return _filling.Count + _flushingCount;
            }
        }
    }

    /// <summary>
    /// Backlog rows (historic reports) reserved, buffered or being written, over all shards. Shards reserve backlog
    /// rows with <see cref="ReserveBacklog"/>, which keeps this within <c>BacklogRowsInFlight</c>, so every COPY keeps
    /// most of its room for live rows.
    /// </summary>
    public int BacklogRowsPending => Volatile.Read(ref _backlogReserved);

    /// <summary>
    /// Reserves up to <paramref name="wanted"/> backlog rows of the allowance shared by all shards and returns how many
    /// it got (0 when it is used up); <paramref name="force"/> takes them past it (draining at stop). The rows then go
    /// to <see cref="AppendAsync"/> as its backlog rows, and what is not used back to <see cref="ReleaseBacklog"/>.
    /// </summary>
    public int ReserveBacklog(int wanted, bool force)
    {
        // Add first, then check and give back the excess: two shards can never both see the same room.
        var after = Interlocked.Add(ref _backlogReserved, wanted);
        if (force)
        {
            return wanted;
        }

        var granted = Math.Clamp(_backlogLimit - (after - wanted), 0, wanted);
        if (granted < wanted)
        {
            // No signal: whoever holds the allowance now releases it with one.
            Interlocked.Add(ref _backlogReserved, granted - wanted);
        }

        return granted;
    }

    /// <summary>Gives back reserved backlog rows that will not be appended.</summary>
    public void ReleaseBacklog(int rows)
    {
        if (rows <= 0)
        {
            return;
        }

        lock (_gate)
        {
            Interlocked.Add(ref _backlogReserved, -rows);
            Signal(ref _backlogRoom);
        }
    }

    /// <summary>Completes when backlog rows may be reserved again (a COPY finished, or a reservation came back).</summary>
    public Task WaitForBacklogRoomAsync()
    {
        lock (_gate)
        {
            return Volatile.Read(ref _backlogReserved) < _backlogLimit ? Task.CompletedTask : (_backlogRoom ??= NewSignal()).Task;
        }
    }

    /// <summary>Rows inserted into positions since start.</summary>
    public long RowsInserted => Interlocked.Read(ref _rowsInserted);

    /// <summary>Rows found already stored (redelivered reports) since start.</summary>
    public long RowsDuplicate => Interlocked.Read(ref _rowsDuplicate);

    /// <summary>Rows PostgreSQL refused as data since start, each recorded in <c>telemetry_rejects</c>.</summary>
    public long RowsStoreRefused => Interlocked.Read(ref _rowsStoreRefused);

    public void Start() => _loop = Task.Run(FlushLoopAsync);

    /// <summary>
    /// Adds a shard's rows; <paramref name="submissions"/>[i] is the submission of <paramref name="rows"/>[i].
    /// Returns once every row is buffered, waiting while both buffers are full. <paramref name="backlogRows"/> of them
    /// are backlog rows, reserved with <see cref="ReserveBacklog"/>: the reservation ends when their COPY is done.
    /// </summary>
    public async ValueTask AppendAsync(ReadOnlyMemory<PositionRow> rows, ReadOnlyMemory<Submission> submissions, CancellationToken cancellationToken, int backlogRows = 0)
    {
        var offset = 0;
        while (offset < rows.Length)
        {
            Task? full = null;
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_completed, this);
                var room = _maxRows - _filling.Count;
                if (room > 0)
                {
                    var count = Math.Min(room, rows.Length - offset);
                    if (_filling.Count == 0)
                    {
                        _firstRowTimestamp = _timeProvider.GetTimestamp();
                        Signal(ref _wake);
                    }

                    _filling.AddRange(rows.Span.Slice(offset, count));
                    AddRuns(submissions.Span.Slice(offset, count));
                    if (offset == 0)
                    {
                        // Counted with the first part: a throttle, it need not follow a split exactly.
                        Volatile.Write(ref _fillingBacklog, _fillingBacklog + backlogRows);
                    }

                    offset += count;
                    if (_filling.Count >= _maxRows)
                    {
                        Signal(ref _wake);
                    }
                }
                else
                {
                    full = (_spaceAvailable ??= NewSignal()).Task;
                }
            }

            if (full is not null)
            {
                await full.WaitAsync(cancellationToken);
            }
        }
    }

    /// <summary>
    /// Flushes what is buffered and stops. Retries keep going until <paramref name="cancellationToken"/> fires;
    /// then the submissions still uncommitted fault (their reports are redelivered by the broker).
    /// </summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _completed = true;
            Signal(ref _wake);
        }

        if (_loop is null)
        {
            return;
        }

        await using (cancellationToken.Register(_abort.Cancel))
        {
            await _loop;
        }
    }

    public void Dispose() => _abort.Dispose();

    private async Task FlushLoopAsync()
    {
        while (true)
        {
            Task? wait = null;
            var delay = TimeSpan.Zero;
            lock (_gate)
            {
                if (_filling.Count == 0)
                {
                    if (_completed)
                    {
                        return;
                    }

                    wait = (_wake ??= NewSignal()).Task;
                }
                else if (!_completed && _filling.Count < _maxRows && _flushInterval > TimeSpan.Zero)
                {
                    var waited = _timeProvider.GetElapsedTime(_firstRowTimestamp);
                    if (waited < _flushInterval)
                    {
                        delay = _flushInterval - waited;
                        wait = (_wake ??= NewSignal()).Task;
                    }
                }

                if (wait is null)
                {
                    (_filling, _flushing) = (_flushing, _filling);
                    (_fillingRuns, _flushingRuns) = (_flushingRuns, _fillingRuns);
                    _flushingCount = _flushing.Count;
                    Volatile.Write(ref _flushingBacklog, _fillingBacklog);
                    Volatile.Write(ref _fillingBacklog, 0);
                    Signal(ref _spaceAvailable);
                }
            }

            if (wait is null)
            {
                await FlushAsync();
            }
            else if (delay > TimeSpan.Zero)
            {
                // The wake signal cuts the wait short when the buffer fills up or the batcher completes.
                await Task.WhenAny(wait, Task.Delay(delay, _timeProvider, _abort.Token));
            }
            else
            {
                await wait;
            }
        }
    }

    private async Task FlushAsync()
    {
        try
        {
            var poison = await WriteWithRetryAsync(_flushing);
            if (poison is null)
            {
                foreach (var run in _flushingRuns)
                {
                    run.Submission.Committed(run.Count);
                }
            }
            else
            {
                await IsolatePoisonAsync(poison);
            }
        }
        catch (OperationCanceledException ex) when (_abort.IsCancellationRequested)
        {
            var failure = new InvalidOperationException("The shard host stopped before these reports were stored.", ex);
            foreach (var run in _flushingRuns)
            {
                run.Submission.Fail(failure);
            }
        }
        finally
        {
            _flushing.Clear();
            _flushingRuns.Clear();
            lock (_gate)
            {
                _flushingCount = 0;
                Interlocked.Add(ref _backlogReserved, -_flushingBacklog);
                Volatile.Write(ref _flushingBacklog, 0);
                Signal(ref _backlogRoom);
            }
        }
    }

    /// <summary>
    /// Writes rows, retrying connection and server failures with backoff until they succeed or the batcher is
    /// aborted. Returns the error when the rows themselves are refused (a data error no retry will fix).
    /// </summary>
    private async Task<PostgresException?> WriteWithRetryAsync(List<PositionRow> rows)
    {
        var delay = FirstRetryDelay;
        while (true)
        {
            try
            {
                var started = _timeProvider.GetTimestamp();
                var written = await _writer.WriteAsync(rows, _abort.Token);
                _copyDuration?.Record(_timeProvider.GetElapsedTime(started).TotalSeconds);
                Interlocked.Add(ref _rowsInserted, written.Inserted);
                Interlocked.Add(ref _rowsDuplicate, written.Duplicates);
                if (_health.Succeeded(StoreOperation.Positions))
                {
                    LogRecovered(_logger, rows.Count);
                }

                return null;
            }
            catch (PostgresException ex) when (IsDataError(ex))
            {
                return ex;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !_abort.IsCancellationRequested)
            {
                _health.Failed(StoreOperation.Positions, ex, _timeProvider);
                LogWriteFailed(_logger, rows.Count, delay.TotalMilliseconds, ex);
                await Task.Delay(delay, _timeProvider, _abort.Token);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _retryMaxDelay.Ticks));
            }
        }
    }

    /// <summary>
    /// A batch refused for its data (say, a jsonb string PostgreSQL cannot hold) is split in halves until the bad
    /// rows are alone, so one bad report does not hold back everyone else's. A bad row is recorded as a
    /// <see cref="TelemetryRejectReason.StoreRefused"/> reject and then counts as done: failing its submission
    /// would leave the message unacknowledged, and the broker would redeliver it, and it would fail, forever.
    /// </summary>
    private async Task IsolatePoisonAsync(PostgresException first)
    {
        var owners = new Submission[_flushing.Count];
        var index = 0;
        foreach (var run in _flushingRuns)
        {
            Array.Fill(owners, run.Submission, index, run.Count);
            index += run.Count;
        }

        LogPoisonBatch(_logger, _flushing.Count, first.SqlState, first.MessageText);
        var pending = new Stack<(int Start, int Count)>();
        pending.Push((0, _flushing.Count / 2));
        pending.Push((_flushing.Count / 2, _flushing.Count - (_flushing.Count / 2)));
        while (pending.TryPop(out var range))
        {
            if (range.Count == 0)
            {
                continue;
            }

            var poison = await WriteWithRetryAsync(_flushing.GetRange(range.Start, range.Count));
            if (poison is null)
            {
                for (var i = range.Start; i < range.Start + range.Count; i++)
                {
                    owners[i].Committed(1);
                }
            }
            else if (range.Count == 1)
            {
                var row = _flushing[range.Start];
                LogPoisonRow(_logger, row.VehicleId, row.Fix.Ts, row.Fix.Seq, poison.SqlState, poison.MessageText);
                await RecordRefusedWithRetryAsync(row, poison.SqlState);
                Interlocked.Increment(ref _rowsStoreRefused);
                owners[range.Start].Committed(1);
            }
            else
            {
                var half = range.Count / 2;
                pending.Push((range.Start, half));
                pending.Push((range.Start + half, range.Count - half));
            }
        }
    }

    /// <summary>
    /// Records a refused row in <c>telemetry_rejects</c>, retrying while the database is unreachable (a reject is
    /// never dropped silently). Should the record itself be refused as data, the error log above is all there is.
    /// </summary>
    private async Task RecordRefusedWithRetryAsync(PositionRow row, string sqlState)
    {
        var head = row.ObdJson.Length <= PayloadHeadBytes ? row.ObdJson : row.ObdJson[..PayloadHeadBytes];
        var delay = FirstRetryDelay;
        while (true)
        {
            try
            {
                await using var command = _dataSource.CreateCommand(InsertRejectSql);
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = row.VehicleId });
                command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = DateTime.UnixEpoch.AddMilliseconds(row.ReceivedAtMs) });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = nameof(TelemetryRejectReason.StoreRefused) });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sqlState });
                command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = head.ToArray() });
                await command.ExecuteNonQueryAsync(_abort.Token);
                return;
            }
            catch (PostgresException ex) when (IsDataError(ex))
            {
                LogRejectRefused(_logger, row.VehicleId, ex.SqlState, ex.MessageText);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !_abort.IsCancellationRequested)
            {
                LogRejectWriteFailed(_logger, row.VehicleId, delay.TotalMilliseconds, ex);
                await Task.Delay(delay, _timeProvider, _abort.Token);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _retryMaxDelay.Ticks));
            }
        }
    }

    private static bool IsDataError(PostgresException ex) =>
        !ex.IsTransient && (ex.SqlState.StartsWith("22", StringComparison.Ordinal) || ex.SqlState.StartsWith("23", StringComparison.Ordinal));

    private void AddRuns(ReadOnlySpan<Submission> submissions)
    {
        // Consecutive rows of one submission share a run, so completion costs one decrement per run, not per row.
        foreach (var submission in submissions)
        {
            if (_fillingRuns.Count > 0 && ReferenceEquals(_fillingRuns[^1].Submission, submission))
            {
                var last = _fillingRuns[^1];
                _fillingRuns[^1] = last with { Count = last.Count + 1 };
            }
            else
            {
                _fillingRuns.Add(new SubmissionRun(submission, 1));
            }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static void Signal(ref TaskCompletionSource? signal)
    {
        signal?.TrySetResult();
        signal = null;
    }

    private readonly record struct SubmissionRun(Submission Submission, int Count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Rows} positions failed; commits are held back, retrying in {DelayMs} ms")]
    private static partial void LogWriteFailed(ILogger logger, int rows, double delayMs, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Position writes work again ({Rows} rows written)")]
    private static partial void LogRecovered(ILogger logger, int rows);

    [LoggerMessage(Level = LogLevel.Error, Message = "PostgreSQL refused a batch of {Rows} positions ({SqlState}: {Reason}); isolating the bad rows")]
    private static partial void LogPoisonBatch(ILogger logger, int rows, string sqlState, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "PostgreSQL refused the position of vehicle {VehicleId} ts {Ts} seq {Seq} ({SqlState}: {Reason}); it is recorded in telemetry_rejects as StoreRefused and acknowledged")]
    private static partial void LogPoisonRow(ILogger logger, long vehicleId, long ts, uint seq, string sqlState, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recording the refused position of vehicle {VehicleId} failed; retrying in {DelayMs} ms")]
    private static partial void LogRejectWriteFailed(ILogger logger, long vehicleId, double delayMs, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "PostgreSQL refused the reject record of vehicle {VehicleId} too ({SqlState}: {Reason}); the position is dropped")]
    private static partial void LogRejectRefused(ILogger logger, long vehicleId, string sqlState, string reason);
}
