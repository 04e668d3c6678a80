# Answers 400 Bad Request to two kinds of malformed input that Rails 6.1 would
# otherwise answer with a 500 (both found by the DAST scan, Wapiti, in
# playbooks/security-scan.yml): a NUL byte in the path or in any parameter
# (PostgreSQL's driver refuses it: ArgumentError), and a CSRF token sent as a
# file upload (Rails' token check calls String methods on it: NoMethodError).
# A 500 is the app's fault and burns the error budget the alerts watch; a
# malformed request is the client's.
class MalformedRequestGuard
  TOKEN = "authenticity_token".freeze

  def initialize(app)
    @app = app
  end

  def call(env)
    request = ActionDispatch::Request.new(env)
    if request.path_info.include?("%00") || request.path_info.include?("\0") || malformed?(request.params)
      return [400, { "Content-Type" => "text/plain; charset=utf-8" }, ["Bad Request\n"]]
    end

    @app.call(env)
  end

  private

  def malformed?(value, key = nil)
    case value
    when String then value.include?("\0")
    when Hash then value.any? { |name, nested| name.to_s.include?("\0") || malformed?(nested, name) }
    when Array then value.any? { |nested| malformed?(nested, key) }
    else key.to_s == TOKEN # a file, or anything else, where Rails expects the token's string
    end
  end
end
