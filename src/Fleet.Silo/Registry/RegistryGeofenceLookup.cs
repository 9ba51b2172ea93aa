using System.Data;
using Fleet.Core.Geofences;
using Fleet.Silo.Grains;
using Fleet.Silo.Persistence;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Fleet.Silo.Registry;

/// <summary>
/// The grains' geofences, from the registry: each department's designated lots (<c>departments.parking_lot</c>), the
/// office zones' boundaries and every vehicle's department, compiled into one <see cref="GeofenceCatalog"/>. Loaded on
/// start, then re-read whole after each burst of <c>fleet_registry</c> notices for those tables (migrations 0003/0004)
/// and after every listener reconnect; never queried per fix. Readers see one consistent snapshot at a time, and the
/// last good one stays in use while a reload fails.
/// </summary>
public sealed partial class RegistryGeofenceLookup : BackgroundService, IGeofenceLookup
{
    /// <summary>How long start-up waits for the first load, so the first fixes already see the lots.</summary>
    public static readonly TimeSpan InitialLoadWait = TimeSpan.FromSeconds(10);

    private static readonly string[] RelevantTables = ["departments", "vehicles", "office_zones"];

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<RegistryGeofenceLookup> _logger;
    private readonly PostgresNotificationListenerOptions? _listenerOptions;
    private readonly double _hysteresisMetres;
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private GeofenceCatalog _catalog = GeofenceCatalog.Empty;
    private long _loadCount;

    public RegistryGeofenceLookup(
        NpgsqlDataSource dataSource,
        TimeProvider timeProvider,
        ILogger<RegistryGeofenceLookup> logger,
        PostgresNotificationListenerOptions? listenerOptions = null,
        double hysteresisMetres = GeofenceCatalog.DefaultHysteresisMetres)
    {
        _dataSource = dataSource;
        _timeProvider = timeProvider;
        _logger = logger;
        _listenerOptions = listenerOptions;
        _hysteresisMetres = hysteresisMetres;
    }

    /// <summary>The current snapshot; <see cref="GeofenceCatalog.Empty"/> until the first load.</summary>
    public GeofenceCatalog Catalog => Volatile.Read(ref _catalog);

    public bool IsLoaded => _loaded.Task.IsCompleted;

    /// <summary>How many times the registry was read; a test waits for it to grow after a change.</summary>
    public long LoadCount => Interlocked.Read(ref _loadCount);

    public Task WaitUntilLoadedAsync(CancellationToken cancellationToken) => _loaded.Task.WaitAsync(cancellationToken);

    /// <summary>Null until the first load: then the lots are unknown, not absent.</summary>
    public bool? IsInDesignatedLot(long vehicleId, double lat, double lon, bool? wasInside) =>
        IsLoaded ? Volatile.Read(ref _catalog).IsInDesignatedLot(vehicleId, lat, lon, wasInside) : null;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await base.StartAsync(cancellationToken);
        try
        {
            await _loaded.Task.WaitAsync(InitialLoadWait, _timeProvider, cancellationToken);
        }
        catch (TimeoutException)
        {
            // The shards start anyway: lots answer null until the load succeeds, and the listener keeps retrying.
            LogInitialLoadLate(_logger, InitialLoadWait.TotalSeconds);
        }
    }

    /// <summary>Re-reads the lots, zones and vehicles and swaps the new catalog in.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        // One reload at a time: a slow read finishing after a newer one must not swap an older catalog back in.
        await _reloadGate.WaitAsync(cancellationToken);
        try
        {
            var started = _timeProvider.GetTimestamp();
            var (fences, vehicles, skipped) = await ReadAsync(cancellationToken);
            var catalog = new GeofenceCatalog(fences, vehicles, _hysteresisMetres);
            Volatile.Write(ref _catalog, catalog);
            Interlocked.Increment(ref _loadCount);
            _loaded.TrySetResult();
            var elapsedMs = _timeProvider.GetElapsedTime(started).TotalMilliseconds;
            LogLoaded(_logger, fences.Count, catalog.VehiclesWithLots, vehicles.Count, skipped, elapsedMs);
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    public override void Dispose()
    {
        _reloadGate.Dispose();
        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var listener = new PostgresNotificationListener(_dataSource, PostgresNotificationListener.RegistryChannel, _logger, _timeProvider, _listenerOptions);
        return listener.RunAsync(
            async (batch, ct) =>
            {
                if (batch.Resync || batch.Payloads.Overlaps(RelevantTables))
                {
                    await ReloadAsync(ct);
                }
            },
            stoppingToken);
    }

    private async Task<(List<Geofence> Fences, Dictionary<long, long> Vehicles, int Skipped)> ReadAsync(CancellationToken cancellationToken)
    {
        // One snapshot for all three reads, so a vehicle never points at a department read before it existed.
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        var fences = new List<Geofence>();
        var skipped = 0;
        skipped += await ReadFencesAsync(connection, transaction, "SELECT id, ST_AsBinary(parking_lot) FROM departments WHERE parking_lot IS NOT NULL ORDER BY id", GeofenceKind.DesignatedLot, fences, cancellationToken);
        skipped += await ReadFencesAsync(connection, transaction, "SELECT id, ST_AsBinary(boundary) FROM office_zones WHERE boundary IS NOT NULL ORDER BY id", GeofenceKind.OfficeZone, fences, cancellationToken);

        var vehicles = new Dictionary<long, long>();
        await using (var command = new NpgsqlCommand("SELECT id, department_id FROM vehicles", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                vehicles[reader.GetInt64(0)] = reader.GetInt32(1);
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return (fences, vehicles, skipped);
    }

    private async Task<int> ReadFencesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, GeofenceKind kind, List<Geofence> fences, CancellationToken cancellationToken)
    {
        var skipped = 0;
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var id = reader.GetInt32(0);
            try
            {
                var fence = new Geofence(id, kind, id, GeofenceWkb.ReadPolygons(reader.GetFieldValue<byte[]>(1)));
                _ = new CompiledFence(fence); // Proves it compiles here, so one bad row cannot fail the whole catalog.
                fences.Add(fence);
            }
            catch (Exception ex) when (ex is FormatException or ArgumentException)
            {
                skipped++;
                LogBadFence(_logger, ex, kind, id);
            }
        }

        return skipped;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Geofences loaded: {Fences} fences, {VehiclesWithLots} of {Vehicles} vehicles with a designated lot, {Skipped} skipped, in {ElapsedMs:F0} ms")]
    private static partial void LogLoaded(ILogger logger, int fences, int vehiclesWithLots, int vehicles, int skipped, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Geofence {Kind} {Id} cannot be used and is skipped")]
    private static partial void LogBadFence(ILogger logger, Exception exception, GeofenceKind kind, int id);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Geofences were not loaded within {Seconds} s of start; designated-lot answers stay unknown until they are")]
    private static partial void LogInitialLoadLate(ILogger logger, double seconds);
}
