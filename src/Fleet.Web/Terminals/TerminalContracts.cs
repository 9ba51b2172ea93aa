namespace Fleet.Web.Terminals;

/// <summary>A terminal as the list, the single read and PATCH return it. The credential hash is never part of it.</summary>
public sealed record TerminalItem(string Id, long? VehicleId, string? Plate, bool Enabled, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>
/// The answer to creating a terminal or rotating its credential: the only time the password is ever shown.
/// The server keeps just its Mosquitto hash.
/// </summary>
public sealed record TerminalCredential(string Id, long? VehicleId, bool Enabled, string Password);

/// <summary>A validated <c>POST /api/terminals</c> body.</summary>
public sealed record NewTerminal(string Id, long? VehicleId);

/// <summary>
/// A validated <c>PATCH /api/terminals/{id}</c> body. <see cref="SetsVehicle"/> tells <c>"vehicleId": null</c>
/// (unbind) from no <c>vehicleId</c> at all (leave as is).
/// </summary>
public sealed record TerminalChange(bool? Enabled, bool SetsVehicle, long? VehicleId);
