using System.Text.Json.Serialization;

namespace Fleet.Silo.Grains;

/// <summary>What a vehicle is doing, judged on event time (see <see cref="VehicleGrain"/>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<MotionState>))]
public enum MotionState
{
    /// <summary>Slower than the moving threshold, for less than the parked threshold.</summary>
    Stopped,

    /// <summary>Faster than <c>MovingSpeedKmh</c>.</summary>
    Moving,

    /// <summary>Stopped for at least <c>ParkedAfter</c>.</summary>
    Parked,
}

/// <summary>
/// The live picture of one vehicle: immutable, replaced whole on every change, so readers on other threads
/// (the read model, the live-frame sink) never see a half-applied update. Absent optional values are null
/// (never NaN) so the record serialises to JSON as it is.
/// </summary>
/// <param name="Ts">Event time of the newest fix, epoch ms UTC.</param>
/// <param name="LastReportAtMs">Receive time of the latest report (late ones included), epoch ms UTC.</param>
/// <param name="TodayKm">Distance driven on <paramref name="TodayDate"/> (an Asia/Shanghai calendar day).</param>
/// <param name="InLot">Inside one of its designated lots; null while the lots are not known.</param>
/// <param name="Version">Incremented on every change; the snapshot in <c>vehicle_state</c> carries it.</param>
public sealed record VehicleLiveState(
    long VehicleId,
    long Ts,
    double Lat,
    double Lon,
    float? Spd,
    short? Hdg,
    bool? Acc,
    double? Odo,
    MotionState Motion,
    bool Online,
    long LastReportAtMs,
    double TodayKm,
    DateOnly TodayDate,
    bool? InLot,
    long Version);
