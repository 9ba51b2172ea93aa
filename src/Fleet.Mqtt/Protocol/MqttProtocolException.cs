namespace Fleet.Mqtt.Protocol;

/// <summary>
/// The one error type for anything on the wire that breaks the MQTT specification.
/// <see cref="Clause"/> names the normative statement (for example "MQTT-2.2.1-3") or section
/// (for example "3.1.1 §2.2.3") that was violated, so a log line points at the spec.
/// </summary>
public sealed class MqttProtocolException : Exception
{
    public MqttProtocolException(string clause, string message)
        : base($"{message} [{clause}]")
    {
        Clause = clause;
    }

    public MqttProtocolException(string clause, string message, Exception innerException)
        : base($"{message} [{clause}]", innerException)
    {
        Clause = clause;
    }

    public MqttProtocolException()
        : this("MQTT", "Protocol error")
    {
    }

    public MqttProtocolException(string message)
        : this("MQTT", message)
    {
    }

    public MqttProtocolException(string message, Exception innerException)
        : this("MQTT", message, innerException)
    {
    }

    public string Clause { get; } = "MQTT";

    /// <summary>5.0 reason code to send in DISCONNECT when the client closes because of this error.</summary>
    public byte ReasonCode { get; init; } = 0x81; // Malformed Packet
}
