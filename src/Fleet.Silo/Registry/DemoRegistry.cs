namespace Fleet.Silo.Registry;

/// <summary>
/// The generated demo registry before it is written: everything refers to departments and zones by their index in
/// the lists, and to vehicles by ordinal, because the database ids are only known when the rows are inserted.
/// </summary>
internal sealed record DemoRegistry(
    IReadOnlyList<RegionSpec> Regions,
    IReadOnlyList<DemoZone> Zones,
    IReadOnlyList<DemoDepartment> Departments,
    IReadOnlyList<DemoVehicle> Vehicles,
    IReadOnlyList<DemoDriver> Drivers,
    IReadOnlyList<DemoTerminal> Terminals,
    IReadOnlyList<DemoQuota> Quotas,
    IReadOnlyList<DemoUser> Users);

internal sealed record DemoZone(string RegionCode, string Name, string BoundaryWkt);

internal sealed record DemoDepartment(
    string RegionCode,
    int? Zone,
    string Name,
    string Address,
    double Lat,
    double Lon,
    string ParkingLotWkt);

internal sealed record DemoVehicle(
    string Plate,
    string Vin,
    string Category,
    string Ownership,
    int Department,
    int? Zone,
    string Model,
    string Energy,
    short Seats,
    bool Marked,
    bool OnQuota,
    string Status);

internal sealed record DemoDriver(string Name, int Department, int? Zone, string LicenceClass, string Phone);

/// <summary>A terminal bound to the vehicle with ordinal <see cref="Vehicle"/>, with its demo password.</summary>
internal sealed record DemoTerminal(string Id, int Vehicle, string Password);

internal sealed record DemoQuota(int Department, string Category, int Quota);

internal sealed record DemoUser(string Username, string DisplayName, string Role, int? Department, string? RegionCode, string Password);
