using Fleet.Mqtt.Protocol;

namespace Fleet.Mqtt.Tests.Protocol;

/// <summary>
/// Packets written out by hand from the specifications (3.1.1 chapter 3, 5.0 chapter 3), field by field.
/// None of these come from our encoder; the wire-byte tests check the encoder and decoder against them,
/// and the truncation and fuzz tests use them as seeds.
/// </summary>
internal static class SpecWire
{
    public static class V311
    {
        // CONNECT, 3.1.1 §3.1: every flag set except the reserved bit.
        public static readonly byte[] ConnectFull = Wire.Bytes(
            0x10, 0x2B,                 // CONNECT, remaining length 43
            0x00, 0x04, "MQTT",         // protocol name
            0x04,                       // protocol level 4 = 3.1.1
            0xEE,                       // flags: user name 0x80 | password 0x40 | will retain 0x20 | will QoS 1 (0x08) | will 0x04 | clean session 0x02
            0x00, 0x3C,                 // keep alive 60 s
            0x00, 0x05, "dev-1",        // client identifier
            0x00, 0x07, "s/dev-1",      // will topic
            0x00, 0x07, "offline",      // will message
            0x00, 0x02, "u1",           // user name
            0x00, 0x02, "pw");          // password

        public static readonly byte[] ConnectMinimal = Wire.Bytes(
            0x10, 0x0D,                 // CONNECT, remaining length 13
            0x00, 0x04, "MQTT",         // protocol name
            0x04,                       // protocol level 4
            0x02,                       // flags: clean session only
            0x00, 0x1E,                 // keep alive 30 s
            0x00, 0x01, "c");           // client identifier

        public static readonly byte[] ConnAckSessionPresent = [0x20, 0x02, 0x01, 0x00]; // CONNACK, rl 2, session present, 0 accepted

        public static readonly byte[] ConnAckNotAuthorized = [0x20, 0x02, 0x00, 0x05];  // CONNACK, rl 2, no session, 5 not authorized

        public static readonly byte[] PublishQoS0 = Wire.Bytes(
            0x30, 0x07,                 // PUBLISH, DUP 0, QoS 0, RETAIN 0; remaining length 7
            0x00, 0x03, "a/b",          // topic name
            "hi");                      // payload (no packet identifier at QoS 0)

        public static readonly byte[] PublishQoS1DupRetain = Wire.Bytes(
            0x3B, 0x09,                 // PUBLISH, DUP 1 (0x08), QoS 1 (0x02), RETAIN 1 (0x01); remaining length 9
            0x00, 0x03, "a/b",          // topic name
            0x00, 0x0A,                 // packet identifier 10
            "hi");                      // payload

        public static readonly byte[] PubAck = [0x40, 0x02, 0x00, 0x0A];             // PUBACK, rl 2, packet id 10

        public static readonly byte[] Subscribe = Wire.Bytes(
            0x82, 0x2D,                              // SUBSCRIBE, reserved flags 0010; remaining length 45
            0x00, 0x01,                              // packet identifier 1
            0x00, 0x14, "fleet/v1/+/telemetry", 0x01, // filter (20 bytes), requested QoS 1
            0x00, 0x11, "$share/gw/fleet/#", 0x00);   // shared-subscription filter (17 bytes), requested QoS 0

        public static readonly byte[] SubAck = [0x90, 0x04, 0x00, 0x01, 0x01, 0x80];  // SUBACK, rl 4, id 1, granted QoS 1, 0x80 failure

        public static readonly byte[] Unsubscribe = Wire.Bytes(
            0xA2, 0x07,                 // UNSUBSCRIBE, reserved flags 0010; remaining length 7
            0x00, 0x03,                 // packet identifier 3
            0x00, 0x03, "a/+");         // topic filter

        public static readonly byte[] UnsubAck = [0xB0, 0x02, 0x00, 0x03];           // UNSUBACK, rl 2, packet id 3

        public static readonly byte[] PingReq = [0xC0, 0x00];

        public static readonly byte[] PingResp = [0xD0, 0x00];

        public static readonly byte[] Disconnect = [0xE0, 0x00];
    }

    public static class V500
    {
        // CONNECT, 5.0 §3.1, with session expiry, receive maximum, maximum packet size and a will with a delay.
        public static readonly byte[] ConnectFull = Wire.Bytes(
            0x10, 0x3F,                 // CONNECT, remaining length 63
            0x00, 0x04, "MQTT",         // protocol name
            0x05,                       // protocol version 5
            0xEE,                       // flags: user name | password | will retain | will QoS 1 | will | clean start
            0x00, 0x3C,                 // keep alive 60 s
            0x0D,                       // property length 13
            0x11, 0x00, 0x00, 0x0E, 0x10, // session expiry interval 3600 s
            0x21, 0x03, 0xE8,           // receive maximum 1000
            0x27, 0x00, 0x01, 0x00, 0x00, // maximum packet size 65536
            0x00, 0x05, "dev-1",        // client identifier
            0x05,                       // will property length 5
            0x18, 0x00, 0x00, 0x00, 0x05, // will delay interval 5 s
            0x00, 0x07, "s/dev-1",      // will topic
            0x00, 0x07, "offline",      // will payload
            0x00, 0x02, "u1",           // user name
            0x00, 0x02, "pw");          // password

        public static readonly byte[] ConnectMinimal = Wire.Bytes(
            0x10, 0x0E,                 // CONNECT, remaining length 14
            0x00, 0x04, "MQTT",         // protocol name
            0x05,                       // protocol version 5
            0x02,                       // flags: clean start only
            0x00, 0x1E,                 // keep alive 30 s
            0x00,                       // property length 0
            0x00, 0x01, "c");           // client identifier

        public static readonly byte[] ConnAckWithProperties = Wire.Bytes(
            0x20, 0x12,                 // CONNACK, remaining length 18
            0x00,                       // acknowledge flags: no session present
            0x00,                       // reason code 0 success
            0x0F,                       // property length 15
            0x21, 0x00, 0x14,           // receive maximum 20
            0x24, 0x01,                 // maximum QoS 1
            0x12, 0x00, 0x04, "auto",   // assigned client identifier
            0x22, 0x00, 0x0A);          // topic alias maximum 10

        public static readonly byte[] ConnAckNotAuthorized = [0x20, 0x03, 0x00, 0x87, 0x00]; // CONNACK, rl 3, 0x87 not authorized, no properties

        public static readonly byte[] PublishQoS0 = Wire.Bytes(
            0x30, 0x08,                 // PUBLISH QoS 0; remaining length 8
            0x00, 0x03, "a/b",          // topic name
            0x00,                       // property length 0
            "hi");                      // payload

        public static readonly byte[] PublishQoS1WithProperties = Wire.Bytes(
            0x32, 0x24,                 // PUBLISH, QoS 1; remaining length 36
            0x00, 0x03, "a/b",          // topic name
            0x00, 0x0A,                 // packet identifier 10
            0x1A,                       // property length 26
            0x01, 0x01,                 // payload format indicator 1 (UTF-8)
            0x02, 0x00, 0x00, 0x00, 0x3C, // message expiry interval 60 s
            0x23, 0x00, 0x05,           // topic alias 5
            0x26, 0x00, 0x01, "k", 0x00, 0x01, "v", // user property k=v
            0x0B, 0x07,                 // subscription identifier 7
            0x03, 0x00, 0x04, "json",   // content type
            "hi");                      // payload

        public static readonly byte[] PubAckShort = [0x40, 0x02, 0x00, 0x0A];          // PUBACK, rl 2: reason 0 and no properties implied (§3.4.2.1)

        public static readonly byte[] PubAckNotAuthorized = [0x40, 0x03, 0x00, 0x0A, 0x87]; // PUBACK, rl 3, id 10, 0x87 not authorized, property length omitted

        public static readonly byte[] PubAckWithReasonString = Wire.Bytes(
            0x40, 0x0B,                 // PUBACK, remaining length 11
            0x00, 0x0A,                 // packet identifier 10
            0x87,                       // reason code not authorized
            0x07,                       // property length 7
            0x1F, 0x00, 0x04, "nope");  // reason string

        public static readonly byte[] Subscribe = Wire.Bytes(
            0x82, 0x1F,                 // SUBSCRIBE, reserved flags 0010; remaining length 31
            0x00, 0x02,                 // packet identifier 2
            0x02,                       // property length 2
            0x0B, 0x07,                 // subscription identifier 7
            0x00, 0x11, "$share/gw/fleet/#", // shared-subscription filter
            0x29,                       // options: retain handling 2 (0x20) | retain as published (0x08) | QoS 1
            0x00, 0x03, "a/+",          // filter
            0x14);                      // options: retain handling 1 (0x10) | no local (0x04) | QoS 0

        public static readonly byte[] SubAck = [0x90, 0x05, 0x00, 0x02, 0x00, 0x01, 0x80]; // SUBACK, rl 5, id 2, no properties, granted QoS 1, 0x80 failure

        public static readonly byte[] Unsubscribe = Wire.Bytes(
            0xA2, 0x08,                 // UNSUBSCRIBE; remaining length 8
            0x00, 0x03,                 // packet identifier 3
            0x00,                       // property length 0
            0x00, 0x03, "a/+");         // topic filter

        public static readonly byte[] UnsubAck = [0xB0, 0x05, 0x00, 0x03, 0x00, 0x00, 0x11]; // UNSUBACK, rl 5, id 3, no properties, success, 0x11 no subscription existed

        public static readonly byte[] PingReq = [0xC0, 0x00];

        public static readonly byte[] PingResp = [0xD0, 0x00];

        public static readonly byte[] DisconnectNormal = [0xE0, 0x00];               // DISCONNECT, rl 0: normal disconnection (§3.14.2.1)

        public static readonly byte[] DisconnectWithWill = Wire.Bytes(
            0xE0, 0x07,                 // DISCONNECT, remaining length 7
            0x04,                       // reason code 0x04 disconnect with will message
            0x05,                       // property length 5
            0x11, 0x00, 0x00, 0x00, 0x00); // session expiry interval 0

        public static readonly byte[] DisconnectSessionTakenOver = [0xE0, 0x01, 0x8E]; // DISCONNECT, rl 1, 0x8E session taken over, property length omitted
    }

    /// <summary>Every packet above with the version it is written in, for the truncation and fuzz tests.</summary>
    public static IReadOnlyList<(string Name, byte[] Wire, MqttProtocolVersion Version)> All { get; } =
    [
        (nameof(V311.ConnectFull), V311.ConnectFull, MqttProtocolVersion.V311),
        (nameof(V311.ConnectMinimal), V311.ConnectMinimal, MqttProtocolVersion.V311),
        (nameof(V311.ConnAckSessionPresent), V311.ConnAckSessionPresent, MqttProtocolVersion.V311),
        (nameof(V311.ConnAckNotAuthorized), V311.ConnAckNotAuthorized, MqttProtocolVersion.V311),
        (nameof(V311.PublishQoS0), V311.PublishQoS0, MqttProtocolVersion.V311),
        (nameof(V311.PublishQoS1DupRetain), V311.PublishQoS1DupRetain, MqttProtocolVersion.V311),
        (nameof(V311.PubAck), V311.PubAck, MqttProtocolVersion.V311),
        (nameof(V311.Subscribe), V311.Subscribe, MqttProtocolVersion.V311),
        (nameof(V311.SubAck), V311.SubAck, MqttProtocolVersion.V311),
        (nameof(V311.Unsubscribe), V311.Unsubscribe, MqttProtocolVersion.V311),
        (nameof(V311.UnsubAck), V311.UnsubAck, MqttProtocolVersion.V311),
        (nameof(V311.PingReq), V311.PingReq, MqttProtocolVersion.V311),
        (nameof(V311.PingResp), V311.PingResp, MqttProtocolVersion.V311),
        (nameof(V311.Disconnect), V311.Disconnect, MqttProtocolVersion.V311),
        (nameof(V500.ConnectFull), V500.ConnectFull, MqttProtocolVersion.V500),
        (nameof(V500.ConnectMinimal), V500.ConnectMinimal, MqttProtocolVersion.V500),
        (nameof(V500.ConnAckWithProperties), V500.ConnAckWithProperties, MqttProtocolVersion.V500),
        (nameof(V500.ConnAckNotAuthorized), V500.ConnAckNotAuthorized, MqttProtocolVersion.V500),
        (nameof(V500.PublishQoS0), V500.PublishQoS0, MqttProtocolVersion.V500),
        (nameof(V500.PublishQoS1WithProperties), V500.PublishQoS1WithProperties, MqttProtocolVersion.V500),
        (nameof(V500.PubAckShort), V500.PubAckShort, MqttProtocolVersion.V500),
        (nameof(V500.PubAckNotAuthorized), V500.PubAckNotAuthorized, MqttProtocolVersion.V500),
        (nameof(V500.PubAckWithReasonString), V500.PubAckWithReasonString, MqttProtocolVersion.V500),
        (nameof(V500.Subscribe), V500.Subscribe, MqttProtocolVersion.V500),
        (nameof(V500.SubAck), V500.SubAck, MqttProtocolVersion.V500),
        (nameof(V500.Unsubscribe), V500.Unsubscribe, MqttProtocolVersion.V500),
        (nameof(V500.UnsubAck), V500.UnsubAck, MqttProtocolVersion.V500),
        (nameof(V500.PingReq), V500.PingReq, MqttProtocolVersion.V500),
        (nameof(V500.PingResp), V500.PingResp, MqttProtocolVersion.V500),
        (nameof(V500.DisconnectNormal), V500.DisconnectNormal, MqttProtocolVersion.V500),
        (nameof(V500.DisconnectWithWill), V500.DisconnectWithWill, MqttProtocolVersion.V500),
        (nameof(V500.DisconnectSessionTakenOver), V500.DisconnectSessionTakenOver, MqttProtocolVersion.V500),
    ];

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var entry in All)
        {
            data.Add($"{entry.Version}:{entry.Name}");
        }

        return data;
    }

    public static (byte[] Wire, MqttProtocolVersion Version) Get(string key)
    {
        foreach (var entry in All)
        {
            if ($"{entry.Version}:{entry.Name}" == key)
            {
                return (entry.Wire, entry.Version);
            }
        }

        throw new ArgumentException($"No spec packet {key}");
    }
}
