using System.ComponentModel.DataAnnotations;
using Fleet.Mqtt.Client;

namespace Fleet.Gateway;

/// <summary>
/// How the gateway connects to the broker, bound from <c>Fleet:Mqtt</c>. The plaintext password lives only here; the
/// broker's password file gets the matching hash from <c>Fleet:Broker:GatewayPasswordHash</c>.
/// </summary>
public sealed class MqttConnectionOptions
{
    public const string Section = "Fleet:Mqtt";

    [Required]
    public string Host { get; set; } = "127.0.0.1";

    [Range(1, 65535)]
    public int Port { get; set; } = 1883;

    [Required]
    public string Username { get; set; } = "fleet-gateway";

    [Required(ErrorMessage = "Fleet:Mqtt:Password is not set (the gateway's broker password; ./fleet up generates one).")]
    public string Password { get; set; } = "";

    [Required]
    public string ClientId { get; set; } = "fleet-gateway";

    /// <summary>Client settings for these credentials; the caller adds what its use needs (receive maximum, acknowledgement mode…).</summary>
    public MqttClientOptions ToClientOptions() => new()
    {
        Host = Host,
        Port = Port,
        Username = Username,
        Password = Password,
        ClientId = ClientId,
    };
}
