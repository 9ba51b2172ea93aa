using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Fleet.Silo.Persistence;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Fleet.Gateway.Ingestion;

/// <summary>A registered terminal as the gateway needs it. <paramref name="VehicleId"/> is null while it is fitted to no vehicle.</summary>
public sealed record TerminalInfo(string TerminalId, long? VehicleId, bool Enabled);

/// <summary>
/// The gateway's in-memory copy of the <c>terminals</c> table: loaded whole, then re-read whole after each burst of
/// changes announced on <c>fleet_registry</c> (migration 0003) and after every listener reconnect. Never queried per
/// message. Lookups take the topic's UTF-8 bytes and allocate nothing. Readers see one consistent snapshot at a time.
/// </summary>
[SuppressMessage("Reliability", "CA1001:Types that own disposable fields should be disposable", Justification = "The SemaphoreSlim never allocates its wait handle (only WaitAsync is used), so there is nothing to dispose.")]
public sealed partial class TerminalRegistry
{
    /// <summary>The <c>fleet_registry</c> payload of the terminals table.</summary>
    public const string TerminalsPayload = "terminals";

    /// <summary>The longest id the <c>terminals.id</c> check allows; longer topic levels cannot be registered.</summary>
    public const int MaxTerminalIdLength = 64;

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<TerminalRegistry> _logger;
    private readonly PostgresNotificationListenerOptions _listenerOptions;
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // One reload at a time: a slow read finishing after a newer one must not swap an older table back in.
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private readonly Lock _missLock = new();
    private Snapshot _snapshot = Snapshot.Empty;
    private Task? _missReload;
    private long _missReloadStart;

    public TerminalRegistry(NpgsqlDataSource dataSource, TimeProvider timeProvider, ILogger<TerminalRegistry> logger, PostgresNotificationListenerOptions? listenerOptions = null)
    {
        _dataSource = dataSource;
        _timeProvider = timeProvider;
        _logger = logger;
        _listenerOptions = listenerOptions ?? new PostgresNotificationListenerOptions
        {
            Debounce = TimeSpan.FromMilliseconds(100),
            MaxDelay = TimeSpan.FromSeconds(1),
        };
    }

    public bool IsLoaded => _loaded.Task.IsCompleted;

    /// <summary>Terminals in the current snapshot.</summary>
    public int Count => Volatile.Read(ref _snapshot).Terminals.Count;

    /// <summary>How many times the table has been loaded; a test waits for it to grow after a change.</summary>
    public long LoadCount => Volatile.Read(ref _snapshot).LoadCount;

    public DateTimeOffset? LoadedAt => Volatile.Read(ref _snapshot).LoadedAt;

    /// <summary>The least time between two reloads for lookups that missed, however many terminals miss.</summary>
    public static TimeSpan MissReloadInterval { get; } = TimeSpan.FromSeconds(1);

    public Task WaitUntilLoadedAsync(CancellationToken cancellationToken) => _loaded.Task.WaitAsync(cancellationToken);

    /// <summary>Looks a terminal up by the UTF-8 topic level that names it.</summary>
    public bool TryGet(ReadOnlySpan<byte> terminalIdUtf8, [MaybeNullWhen(false)] out TerminalInfo terminal)
    {
        terminal = null;
        if (terminalIdUtf8.Length > MaxTerminalIdLength)
        {
            return false;
        }

        // A UTF-8 sequence never decodes to more chars than it has bytes.
        Span<char> chars = stackalloc char[MaxTerminalIdLength];
        var length = Encoding.UTF8.GetChars(terminalIdUtf8, chars);
        return Volatile.Read(ref _snapshot).Lookup.TryGetValue(chars[..length], out terminal);
    }

    public bool TryGet(string terminalId, [MaybeNullWhen(false)] out TerminalInfo terminal) =>
        Volatile.Read(ref _snapshot).Terminals.TryGetValue(terminalId, out terminal);

    /// <summary>
    /// For a lookup that missed (unknown, disabled or unfitted): completes once the snapshot was read after this call
    /// began, so a terminal the broker already admits is seen even when the <c>fleet_registry</c> notice has not been
    /// acted on yet. Concurrent misses share one reload, and these reloads start at most once per
    /// <see cref="MissReloadInterval"/>, so a flood of unknown ids costs the database one query a second. Throws when the
    /// reload fails: the caller must not reject on a snapshot it could not refresh.
    /// </summary>
    public async Task RefreshAfterMissAsync(CancellationToken cancellationToken)
    {
        var needed = _timeProvider.GetTimestamp();
        while (Volatile.Read(ref _snapshot).ReadStarted < needed)
        {
            Task reload;
            lock (_missLock)
            {
                if (_missReload is null || _missReload.IsCompleted)
                {
                    var now = _timeProvider.GetTimestamp();
                    var interval = (long)(MissReloadInterval.TotalSeconds * _timeProvider.TimestampFrequency);
                    var start = _missReload is null ? now : Math.Max(now, _missReloadStart + interval);
                    _missReloadStart = start;
                    _missReload = ReloadAfterAsync(TimeSpan.FromSeconds((start - now) / (double)_timeProvider.TimestampFrequency));
                }

                reload = _missReload;
            }

            // A reload in flight that began before this miss cannot answer it; the loop then waits for the next one.
            await reload.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Re-reads the whole table and swaps the snapshot in.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await _reloadGate.WaitAsync(cancellationToken);
        try
        {
            await ReadAndSwapAsync(cancellationToken);
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    // Shared by every waiting miss, so no single caller's token may cancel it; the command timeout bounds it.
    private async Task ReloadAfterAsync(TimeSpan delay)
    {
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, _timeProvider);
        }

        await ReloadAsync(CancellationToken.None);
    }

    private async Task ReadAndSwapAsync(CancellationToken cancellationToken)
    {
        var started = _timeProvider.GetTimestamp();
        var terminals = new Dictionary<string, TerminalInfo>(StringComparer.Ordinal);
        await using (var command = _dataSource.CreateCommand("SELECT id, vehicle_id, enabled FROM terminals"))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetString(0);
                long? vehicleId = reader.IsDBNull(1) ? null : reader.GetInt64(1);
                terminals[id] = new TerminalInfo(id, vehicleId, reader.GetBoolean(2));
            }
        }

        var previous = Volatile.Read(ref _snapshot);
        Volatile.Write(ref _snapshot, new Snapshot(terminals.ToFrozenDictionary(StringComparer.Ordinal), previous.LoadCount + 1, _timeProvider.GetUtcNow(), started));
        _loaded.TrySetResult();
        var elapsed = _timeProvider.GetElapsedTime(started);
        LogLoaded(_logger, terminals.Count, elapsed.TotalMilliseconds);
    }

    /// <summary>
    /// Loads the table, then keeps it current from <c>fleet_registry</c> notices until cancelled. A failed load or a
    /// lost listener connection is retried with a backoff; the last good snapshot stays in use meanwhile.
    /// </summary>
    public Task RunAsync(CancellationToken cancellationToken)
    {
        var listener = new PostgresNotificationListener(_dataSource, PostgresNotificationListener.RegistryChannel, _logger, _timeProvider, _listenerOptions);
        return listener.RunAsync(
            async (batch, ct) =>
            {
                if (batch.Resync || batch.Payloads.Contains(TerminalsPayload))
                {
                    await ReloadAsync(ct);
                }
            },
            cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Terminal registry loaded: {Terminals} terminals in {ElapsedMs:F0} ms")]
    private static partial void LogLoaded(ILogger logger, int terminals, double elapsedMs);

    private sealed class Snapshot
    {
        public static readonly Snapshot Empty = new(new Dictionary<string, TerminalInfo>().ToFrozenDictionary(StringComparer.Ordinal), 0, null, long.MinValue);

        public Snapshot(FrozenDictionary<string, TerminalInfo> terminals, long loadCount, DateTimeOffset? loadedAt, long readStarted)
        {
            ReadStarted = readStarted;
            Terminals = terminals;
            Lookup = terminals.GetAlternateLookup<ReadOnlySpan<char>>();
            LoadCount = loadCount;
            LoadedAt = loadedAt;
        }

        public FrozenDictionary<string, TerminalInfo> Terminals { get; }

        public FrozenDictionary<string, TerminalInfo>.AlternateLookup<ReadOnlySpan<char>> Lookup { get; }

        public long LoadCount { get; }

        public DateTimeOffset? LoadedAt { get; }

        /// <summary>When the read began (a <see cref="TimeProvider"/> timestamp): it saw every change committed before.</summary>
        public long ReadStarted { get; }
    }
}
