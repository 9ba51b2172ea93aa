using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Client;

/// <summary>Human-readable names of reason codes (5.0 §2.4) and 3.1.1 CONNACK return codes (3.1.1 §3.2.2.3).</summary>
public static class MqttReasonCodes
{
    public const byte Success = 0x00;
    public const byte NoMatchingSubscribers = 0x10;
    public const byte UnspecifiedError = 0x80;
    public const byte BadUserNameOrPassword = 0x86;
    public const byte NotAuthorized = 0x87;

    public static string GetName(byte code) => code switch
    {
        0x00 => "Success",
        0x01 => "Granted QoS 1",
        0x02 => "Granted QoS 2",
        0x04 => "Disconnect with Will Message",
        0x10 => "No matching subscribers",
        0x11 => "No subscription existed",
        0x18 => "Continue authentication",
        0x19 => "Re-authenticate",
        0x80 => "Unspecified error",
        0x81 => "Malformed Packet",
        0x82 => "Protocol Error",
        0x83 => "Implementation specific error",
        0x84 => "Unsupported Protocol Version",
        0x85 => "Client Identifier not valid",
        0x86 => "Bad User Name or Password",
        0x87 => "Not authorized",
        0x88 => "Server unavailable",
        0x89 => "Server busy",
        0x8A => "Banned",
        0x8B => "Server shutting down",
        0x8C => "Bad authentication method",
        0x8D => "Keep Alive timeout",
        0x8E => "Session taken over",
        0x8F => "Topic Filter invalid",
        0x90 => "Topic Name invalid",
        0x91 => "Packet Identifier in use",
        0x92 => "Packet Identifier not found",
        0x93 => "Receive Maximum exceeded",
        0x94 => "Topic Alias invalid",
        0x95 => "Packet too large",
        0x96 => "Message rate too high",
        0x97 => "Quota exceeded",
        0x98 => "Administrative action",
        0x99 => "Payload format invalid",
        0x9A => "Retain not supported",
        0x9B => "QoS not supported",
        0x9C => "Use another server",
        0x9D => "Server moved",
        0x9E => "Shared Subscriptions not supported",
        0x9F => "Connection rate exceeded",
        0xA0 => "Maximum connect time",
        0xA1 => "Subscription Identifiers not supported",
        0xA2 => "Wildcard Subscriptions not supported",
        _ => "Unknown reason code",
    };

    /// <summary>3.1.1 CONNACK return codes 0–5.</summary>
    public static string GetConnectReturnCodeName(byte code) => code switch
    {
        0 => "Connection accepted",
        1 => "Unacceptable protocol version",
        2 => "Identifier rejected",
        3 => "Server unavailable",
        4 => "Bad user name or password",
        5 => "Not authorized",
        _ => "Unknown return code",
    };

    /// <summary>Formats a CONNACK code the way the version defines it, e.g. "0x86 Bad User Name or Password" or "return code 4 (Bad user name or password)".</summary>
    public static string DescribeConnAck(byte code, MqttProtocolVersion version) => version == MqttProtocolVersion.V311
        ? $"return code {code} ({GetConnectReturnCodeName(code)})"
        : $"0x{code:X2} {GetName(code)}";
}
