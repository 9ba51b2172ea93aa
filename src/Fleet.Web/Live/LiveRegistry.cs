using System.Collections.Frozen;
using System.Collections.Immutable;
using Fleet.Silo.Persistence;
using Npgsql;

namespace Fleet.Web.Live;

/// <summary>Where a department sits: its region with every ancestor region, and its office zone.</summary>
/// <param name="Regions">The department's region first, then its parent, up to the province.</param>
public sealed record DepartmentPlace(int Id, int? ZoneId, ImmutableArray<int> Regions)
{
    public bool IsIn(int regionId) => Regions.Contains(regionId);
}

/// <summary>Where a vehicle belongs for the live fan-out: its department and its own office zone.</summary>
public readonly record struct VehiclePlace(DepartmentPlace Department, int? ZoneId);

/// <summary>One immutable picture of the registry; replaced whole on reload, so readers need no locks.</summary>
public sealed class LiveRegistrySnapshot
{
    public static readonly LiveRegistrySnapshot Empty = new(
        FrozenDictionary<long, VehiclePlace>.Empty,
        FrozenDictionary<int, DepartmentPlace>.Empty,
        FrozenSet<int>.Empty,
        FrozenSet<int>.Empty,
        0);

    public LiveRegistrySnapshot(
        FrozenDictionary<long, VehiclePlace> vehicles,
        FrozenDictionary<int, DepartmentPlace> departments,
        FrozenSet<int> regions,
        FrozenSet<int> zones,
        long loadCount)
    {
        Vehicles = vehicles;
        Departments = departments;
        Regions = regions;
        Zones = zones;
        LoadCount = loadCount;
    }

    public FrozenDictionary<long, VehiclePlace> Vehicles { get; }

    public FrozenDictionary<int, DepartmentPlace> Departments { get; }

    public FrozenSet<int> Regions { get; }

    public FrozenSet<int> Zones { get; }

    /// <summary>How many loads made it; 0 until the first.</summary>
    public long LoadCount { get; }
}

/// <summary>
/// The vehicle → department, zone and region map of the live fan-out, read from PostgreSQL on start and again on
/// every <c>fleet_registry</c> notice about vehicles or departments (migrations 0003/0004), never by polling. A
/// failed load keeps the last good picture and is retried by the listener's backoff.
/// </summary>
public sealed partial class LiveRegistry : BackgroundService
{
    // Regions and zones are re-read too when someone announces them; today only vehicles and departments do.
    private static readonly FrozenSet<string> RelevantTables =
        FrozenSet.Create(StringComparer.Ordinal, "vehicles", "departments", "regions", "office_zones");

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<LiveRegistry> _logger;
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LiveRegistrySnapshot _current = LiveRegistrySnapshot.Empty;

    public LiveRegistry(NpgsqlDataSource dataSource, TimeProvider timeProvider, ILogger<LiveRegistry> logger)
    {
        _dataSource = dataSource;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public LiveRegistrySnapshot Current => Volatile.Read(ref _current);

    /// <summary>Completes once the first load has succeeded.</summary>
    public Task Loaded => _loaded.Task;

    /// <summary>Re-reads the registry now; the listener calls this on start and on each relevant notice.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        var started = _timeProvider.GetTimestamp();
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);

        var parents = new Dictionary<int, int?>();
        await using (var command = new NpgsqlCommand("SELECT id, parent_id FROM regions", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                parents[reader.GetInt32(0)] = reader.IsDBNull(1) ? null : reader.GetInt32(1);
            }
        }

        var zones = new List<int>();
        await using (var command = new NpgsqlCommand("SELECT id FROM office_zones", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                zones.Add(reader.GetInt32(0));
            }
        }

        var departments = new Dictionary<int, DepartmentPlace>();
        await using (var command = new NpgsqlCommand("SELECT id, region_id, office_zone_id FROM departments", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var id = reader.GetInt32(0);
                departments[id] = new DepartmentPlace(id, reader.IsDBNull(2) ? null : reader.GetInt32(2), RegionChain(reader.GetInt32(1), parents));
            }
        }

        var vehicles = new Dictionary<long, VehiclePlace>();
        await using (var command = new NpgsqlCommand("SELECT id, department_id, office_zone_id FROM vehicles", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                if (departments.TryGetValue(reader.GetInt32(1), out var department))
                {
                    vehicles[reader.GetInt64(0)] = new VehiclePlace(department, reader.IsDBNull(2) ? null : reader.GetInt32(2));
                }
            }
        }

        var snapshot = new LiveRegistrySnapshot(
            vehicles.ToFrozenDictionary(),
            departments.ToFrozenDictionary(),
            parents.Keys.ToFrozenSet(),
            zones.ToFrozenSet(),
            Current.LoadCount + 1);
        Volatile.Write(ref _current, snapshot);
        _loaded.TrySetResult();
        var elapsed = _timeProvider.GetElapsedTime(started);
        LogLoaded(_logger, vehicles.Count, departments.Count, elapsed.TotalMilliseconds);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var listener = new PostgresNotificationListener(_dataSource, PostgresNotificationListener.RegistryChannel, _logger, _timeProvider);
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

    private static ImmutableArray<int> RegionChain(int regionId, Dictionary<int, int?> parents)
    {
        var chain = ImmutableArray.CreateBuilder<int>(4);
        int? current = regionId;
        // Bounded, so a (forbidden but possible) cycle in parent_id cannot hang the load.
        while (current is { } id && chain.Count < 16 && !chain.Contains(id))
        {
            chain.Add(id);
            current = parents.GetValueOrDefault(id);
        }

        return chain.ToImmutable();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Live registry loaded: {Vehicles} vehicles in {Departments} departments in {ElapsedMs:F0} ms")]
    private static partial void LogLoaded(ILogger logger, int vehicles, int departments, double elapsedMs);
}
