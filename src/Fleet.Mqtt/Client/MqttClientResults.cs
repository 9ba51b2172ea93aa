using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Client;

/// <summary>
/// Outcome of a publish. QoS 0 succeeds once the packet is queued for the socket; QoS 1 carries the PUBACK's
/// reason code (always Success at 3.1.1, where a broker that drops a message still acknowledges it).
/// </summary>
public readonly record struct MqttPublishResult(byte ReasonCode, string? ReasonString = null)
{
    public static MqttPublishResult Queued => default;

    /// <summary>Reason codes below 0x80 are successes (0x10 "No matching subscribers" included).</summary>
    public bool IsSuccess => ReasonCode < 0x80;

    public string ReasonName => MqttReasonCodes.GetName(ReasonCode);
}

/// <summary>What the broker said when the connection was accepted.</summary>
public sealed record MqttConnectResult(bool SessionPresent, ConnAckPacket ConnAck, long ConnectionGeneration);

/// <summary>The granted QoS per requested filter, in request order.</summary>
public sealed record MqttSubscribeResult(IReadOnlyList<byte> ReasonCodes);
