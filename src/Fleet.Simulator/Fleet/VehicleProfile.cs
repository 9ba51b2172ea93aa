using Fleet.Simulator.Roads;

namespace Fleet.Simulator.Fleet;

/// <summary>Whether a vehicle reports <c>fuel</c> or <c>soc</c>.</summary>
public enum EnergyKind : byte
{
    Fuel,
    Electric,
}

/// <summary>A region the simulator knows: GB/T 2260 code, seat coordinates and typical altitude.</summary>
public sealed record RegionInfo(string Code, string Name, GeoPoint Centre, double AltitudeMetres);

/// <summary>What the simulator knows of one vehicle: its terminal's credentials, its region and its home lot.</summary>
public sealed record VehicleProfile(
    string TerminalId,
    string Password,
    long VehicleId,
    string Plate,
    RegionInfo Region,
    GeoPoint HomeLot,
    EnergyKind Energy);

/// <summary>One terminal from the demo credentials file.</summary>
public sealed record TerminalCredential(string TerminalId, string Password, long VehicleId, string Plate);
