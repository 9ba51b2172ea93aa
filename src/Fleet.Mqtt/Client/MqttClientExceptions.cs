using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Client;

/// <summary>The broker refused the connection (CONNACK with a failure code).</summary>
public sealed class MqttConnectException : Exception
{
    public MqttConnectException()
    {
    }

    public MqttConnectException(string message)
        : base(message)
    {
    }

    public MqttConnectException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public MqttConnectException(string host, int port, byte reasonCode, MqttProtocolVersion version, string? reasonString = null)
        : base($"MQTT connection to {host}:{port} refused: {MqttReasonCodes.DescribeConnAck(reasonCode, version)}"
               + (string.IsNullOrEmpty(reasonString) ? "" : $" ({reasonString})"))
    {
        ReasonCode = reasonCode;
        ProtocolVersion = version;
    }

    /// <summary>The 5.0 reason code, or the 3.1.1 return code.</summary>
    public byte ReasonCode { get; }

    public MqttProtocolVersion ProtocolVersion { get; }

    public string ReasonName => ProtocolVersion == MqttProtocolVersion.V311
        ? MqttReasonCodes.GetConnectReturnCodeName(ReasonCode)
        : MqttReasonCodes.GetName(ReasonCode);
}

/// <summary>The connection is gone and the client will not (or can no longer) deliver what was asked.</summary>
public sealed class MqttConnectionLostException : Exception
{
    public MqttConnectionLostException()
        : base("The MQTT connection was lost.")
    {
    }

    public MqttConnectionLostException(string message)
        : base(message)
    {
    }

    public MqttConnectionLostException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The broker rejected one or more topic filters of a SUBSCRIBE.</summary>
public sealed class MqttSubscribeException : Exception
{
    public MqttSubscribeException()
    {
    }

    public MqttSubscribeException(string message)
        : base(message)
    {
    }

    public MqttSubscribeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public MqttSubscribeException(IReadOnlyList<string> topicFilters, IReadOnlyList<byte> reasonCodes)
        : base("SUBSCRIBE rejected: " + string.Join(", ", topicFilters.Select((f, i) =>
            $"'{f}' → 0x{(i < reasonCodes.Count ? reasonCodes[i] : 0x80):X2} {MqttReasonCodes.GetName(i < reasonCodes.Count ? reasonCodes[i] : (byte)0x80)}")))
    {
        TopicFilters = topicFilters;
        ReasonCodes = reasonCodes;
    }

    public IReadOnlyList<string> TopicFilters { get; } = [];
    public IReadOnlyList<byte> ReasonCodes { get; } = [];
}
