namespace Fleet.Silo.Registry;

/// <summary>What to seed. The same options always give the same registry: plates, VINs, ids, coordinates, passwords.</summary>
/// <param name="Vehicles">Vehicles to create, 1 … <see cref="MaxVehicles"/>; one terminal each.</param>
/// <param name="Seed">Seeds every random choice, and the demo passwords.</param>
public sealed record DemoSeedOptions(int Vehicles = DemoSeedOptions.DefaultVehicles, int Seed = DemoSeedOptions.DefaultSeed)
{
    public const int DefaultVehicles = 2000;
    public const int DefaultSeed = 20261122;

    /// <summary>Well above the real province's 23,188; the plate and VIN spaces stay far from exhausted.</summary>
    public const int MaxVehicles = 200_000;
}

/// <summary>Seeding progress: <paramref name="Completed"/> of <paramref name="Total"/> items of <paramref name="Phase"/>.</summary>
public readonly record struct SeedProgress(string Phase, int Completed, int Total);

/// <summary>The phases reported through <see cref="SeedProgress"/>, in order.</summary>
public static class SeedPhases
{
    public const string Generate = "generate";
    public const string Regions = "regions";
    public const string Departments = "departments";
    public const string Vehicles = "vehicles";
    public const string TerminalCredentials = "terminal-credentials";
    public const string Terminals = "terminals";
    public const string Drivers = "drivers";
    public const string Quotas = "quotas";
    public const string Users = "users";
    public const string Commit = "commit";
}

/// <summary>Row counts of the seeded registry.</summary>
public sealed record DemoSeedCounts(int Regions, int OfficeZones, int Departments, int Vehicles, int Drivers, int Terminals, int Users);

/// <summary>DEMO ONLY: a demo login and its plaintext password.</summary>
public sealed record DemoUserCredential(string Username, string Password, string Role, string? Department);

/// <summary>DEMO ONLY: a terminal's broker credentials (the MQTT username is the terminal id) and its vehicle.</summary>
public sealed record DemoTerminalCredential(string TerminalId, string Password, long VehicleId, string Plate);

/// <summary>
/// What <see cref="DemoProvinceSeeder.SeedAsync"/> did. When <see cref="AlreadySeeded"/> is true nothing was written,
/// <see cref="Counts"/> describes the registry found, and the credential lists are empty (the passwords are only
/// known at seeding time; the credentials file written then still holds them).
/// </summary>
public sealed record DemoSeedResult(
    bool AlreadySeeded,
    DemoSeedCounts Counts,
    IReadOnlyList<DemoUserCredential> Users,
    IReadOnlyList<DemoTerminalCredential> Terminals,
    TimeSpan Elapsed);
